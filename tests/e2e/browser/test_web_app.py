"""The web app in a real browser (Debian's Chromium) against the server that `make run` starts.

Read like the product: an admin signs in, creates a business, impersonates it with a reason, edits
its prompts and leaves; a business user never reaches the admin pages; the page is Hebrew, right to
left."""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Flask

from tests.conftest import PASSWORD, make_business, make_user
from tests.e2e.browser.conftest import Web

try:
    from playwright.sync_api import expect
except ImportError:  # the `chromium` fixture skips (or fails on CI) with the reason
    expect = None  # type: ignore[assignment]

CALLS_PROMPT = "ענה/י בנימוס ובעברית.\nשאל/י לשם ולסיבת הפנייה, והצע/י תור 🙂"
WHATSAPP_PROMPT = "Answer briefly; offer the next free slot. מספר לחזרה: 050-234-5678"


def sign_in(web: Web, email: str, password: str) -> None:
    page = web.page
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.get_by_label("אימייל").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="כניסה", exact=True).click()


def main_clear_of_navbar(page: Any) -> None:
    """The page's heading sits beside the side navigation, never under it (both directions)."""
    navbar = page.locator("nav").first
    heading = page.locator("main h2").first
    deadline = time.monotonic() + 3  # AppShell animates its offsets after a direction switch
    while True:
        nav, head = navbar.bounding_box(), heading.bounding_box()
        assert nav and head
        clear = head["x"] >= nav["x"] + nav["width"] or head["x"] + head["width"] <= nav["x"]
        if clear or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert clear, f"heading {head} overlaps the navigation {nav}"


def expect_rtl_hebrew(page: Any) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "he")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"


def create_move_and_remind(web: Web, name: str, typed_phone: str, e164: str) -> int:
    """Leads page → new lead (phone as typed) → its page shows E.164 → board: drag it from "new" to
    "contacted" → its page: a reminder for tomorrow 09:00 is listed. Returns the lead's id."""
    page = web.page
    page.get_by_role("link", name="לידים").click()
    expect(page).to_have_url(re.compile(r"/app/leads$"))
    page.get_by_test_id("new-lead").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("שם", exact=True).fill(name)
    dialog.get_by_test_id("lead-phone").fill(typed_phone)
    dialog.get_by_test_id("save-lead").click()
    expect(page).to_have_url(re.compile(r"/app/leads/\d+$"))
    lead_id = int(page.url.rsplit("/", 1)[1])
    header = page.locator("main h2").first
    expect(header).to_have_text(name)
    expect(page.locator("main bdi").filter(has_text=e164).first).to_be_visible()
    web.shots.take("lead-created")

    # The board: the card is under "new"; a drag puts it under "contacted" (and the server agrees).
    page.get_by_role("link", name="חזרה ללידים").click()
    expect(page.get_by_test_id("leads-table")).to_contain_text(e164)
    page.get_by_test_id("leads-view").get_by_text("לוח").click()
    card = page.get_by_test_id(f"board-card-{lead_id}")
    expect(page.get_by_test_id("board-column-new").get_by_test_id(f"board-card-{lead_id}")).to_be_visible()
    card.drag_to(page.get_by_test_id("board-column-contacted"))
    expect(
        page.get_by_test_id("board-column-contacted").get_by_test_id(f"board-card-{lead_id}")
    ).to_be_visible()
    expect(page.get_by_test_id("board-column-new").get_by_test_id(f"board-card-{lead_id}")).to_have_count(0)
    deadline = time.monotonic() + 10
    while web.api_get(f"/api/leads/{lead_id}").json()["status"] != "contacted":
        assert time.monotonic() < deadline, "the move never reached the server"
        time.sleep(0.2)
    web.shots.take("board-moved")

    # A reminder on the lead's page, listed with its Israel-time date.
    page.get_by_test_id(f"board-card-{lead_id}").get_by_role("link").click()
    expect(page.get_by_test_id("lead-page")).to_be_visible()
    page.get_by_test_id("reminder-text").fill("לחזור עם הצעת מחיר")
    page.get_by_test_id("add-reminder").click()
    reminders = page.get_by_test_id("reminder-list")
    expect(reminders).to_contain_text("לחזור עם הצעת מחיר")
    expect(reminders).to_contain_text(re.compile(r"\b9:00\b"))
    expect(page.get_by_test_id("timeline")).to_contain_text("תזכורת נקבעה")
    web.shots.take("reminder-set")
    return lead_id


def test_admin_impersonates_a_new_business_and_edits_its_prompts(web: Web, server: Any) -> None:
    page = web.page
    responses: list[tuple[str, str, int]] = []
    page.on(
        "response",
        lambda r: responses.append((r.request.method, re.sub(r"^https?://[^/]+", "", r.url), r.status)),
    )

    # Signed out, the app sends us to the login page, in Hebrew, right to left.
    web.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect_rtl_hebrew(page)
    expect(page.get_by_label("אימייל")).to_be_visible()
    web.shots.take("login")
    sign_in(web, server.admin_email, server.admin_password)
    expect(page).to_have_url(re.compile(r"/admin/businesses$"))
    expect(page.get_by_test_id("whoami")).to_contain_text(server.admin_email)
    expect(page.get_by_test_id("whoami")).to_contain_text("מנהל מערכת")
    expect(page.get_by_test_id("empty-state")).to_be_visible()  # a fresh platform has no business

    # Create a business with a voice number (normalised to E.164 by the server).
    page.get_by_test_id("new-business").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("שם העסק").fill("מספרת הדגמה")
    dialog.get_by_label("מספרי טלפון לשיחות").fill("03-555-0199")
    dialog.get_by_test_id("save-business").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_role("row").filter(has_text="מספרת הדגמה")
    expect(row).to_contain_text("+97235550199")
    expect(row).to_contain_text("פעיל")
    web.shots.take("business-created")

    # Impersonating needs a reason.
    row.get_by_role("button", name="התחזות").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_test_id("start-impersonation").click()
    expect(dialog).to_contain_text("יש לכתוב סיבה")
    assert not any("/impersonate" in path for _, path, _ in responses)
    dialog.get_by_label("סיבת ההתחזות").fill("בדיקת הגדרות לבקשת הלקוח")
    dialog.get_by_test_id("start-impersonation").click()

    # The app becomes the business's app, with the banner and the time left.
    expect(page).to_have_url(re.compile(r"/app$"))
    banner = page.get_by_test_id("impersonation-banner")
    expect(banner).to_contain_text("צופה כ־מספרת הדגמה")
    expect(banner.get_by_role("button", name="יציאה")).to_be_visible()
    expect(page.get_by_test_id("impersonation-remaining")).to_have_text(re.compile(r"^נותרו (59|60):\d\d$"))
    expect(page.get_by_test_id("nav-admin-businesses")).to_have_count(0)
    expect(page.get_by_test_id("dashboard-numbers")).to_contain_text("+97235550199")
    web.shots.take("impersonating-dashboard")

    # Prompts: both saved, with counts and a clear saved state.
    page.get_by_role("link", name="הנחיות לסוכן").click()
    expect(page).to_have_url(re.compile(r"/app/prompts$"))
    expect(page.get_by_test_id("save-status")).to_contain_text("עוד לא נשמרו הנחיות")
    calls = page.get_by_label("הנחיה לסוכן השיחות")
    whatsapp = page.get_by_label("הנחיה לסוכן הוואטסאפ")
    calls.fill(CALLS_PROMPT)
    whatsapp.fill(WHATSAPP_PROMPT)
    # Characters as the server counts them: the emoji is one.
    expect(page.get_by_test_id("count-calls_prompt")).to_have_text(f"{len(CALLS_PROMPT)} / 20,000")
    expect(page.get_by_test_id("count-whatsapp_prompt")).to_have_text(f"{len(WHATSAPP_PROMPT)} / 20,000")
    expect(page.get_by_test_id("save-status")).to_contain_text("יש שינויים שלא נשמרו")
    page.get_by_test_id("save-prompts").click()
    status = page.get_by_test_id("save-status")
    expect(status).to_have_attribute("data-state", "saved")
    expect(status).to_contain_text("נשמר · גרסה 1")
    expect(page.get_by_test_id("prompt-history")).to_contain_text("גרסה 1")
    expect(banner).to_be_in_viewport()
    web.shots.take("prompts-saved")

    # The server has them, and a reload shows them (still impersonating).
    stored = web.api_get("/api/business/current/prompt").json()
    assert (stored["calls_prompt"], stored["whatsapp_prompt"]) == (CALLS_PROMPT, WHATSAPP_PROMPT)
    page.reload()
    expect(page.get_by_label("הנחיה לסוכן השיחות")).to_have_value(CALLS_PROMPT)
    expect(page.get_by_label("הנחיה לסוכן הוואטסאפ")).to_have_value(WHATSAPP_PROMPT)
    expect(banner).to_contain_text("צופה כ־מספרת הדגמה")

    # A stale CSRF token: the save is refused once (csrf_failed), a fresh token is fetched, the save
    # is retried and lands. The banner stays on screen while the page scrolls.
    # Every read is done first: any response would set the right cookie again.
    expect(page.get_by_test_id("prompt-history")).to_contain_text("גרסה 1")
    page.wait_for_load_state("networkidle")
    page.get_by_label("הנחיה לסוכן השיחות").fill("גרסה שנייה")
    web.context.add_cookies([{"name": "XSRF-TOKEN", "value": "stale-token", "url": server.base}])
    responses.clear()
    page.get_by_test_id("save-prompts").click()
    expect(status).to_contain_text("נשמר · גרסה 2")
    puts = [(m, p, s) for m, p, s in responses if p.startswith("/api/business/current/prompt")]
    assert [s for m, _, s in puts if m == "PUT"] == [403, 200], responses
    assert ("GET", "/api/auth/csrf", 200) in responses
    assert not [line for line in web.console_errors if line.startswith("[http] 403")]
    page.mouse.wheel(0, 3000)
    expect(banner).to_be_in_viewport()

    # Restore version 1: PUT of the old pair, saved as version 3. The history is read again after
    # the save: wait for version 2 in it, or that read lands between the clicks and moves the rows.
    history = page.get_by_test_id("prompt-history")
    expect(history.get_by_test_id("history-2")).to_be_visible()
    page.wait_for_load_state("networkidle")
    history.get_by_test_id("history-1").get_by_role("button").first.click()
    expect(history.get_by_test_id("restore-1")).to_be_in_viewport()
    history.get_by_test_id("restore-1").click()
    page.get_by_role("dialog").get_by_test_id("confirm").click()
    expect(history.get_by_test_id("history-3")).to_be_visible()
    expect(page.get_by_label("הנחיה לסוכן השיחות")).to_have_value(CALLS_PROMPT)
    stored = web.api_get("/api/business/current/prompt").json()
    assert (stored["version"], stored["calls_prompt"]) == (3, CALLS_PROMPT)
    web.shots.take("restored")

    # Leads, still impersonating: a lead with an Israeli phone, moved on the board, with a reminder.
    lead_id = create_move_and_remind(web, "דנה כהן", "050-234-5678", "+972502345678")
    expect(banner).to_be_in_viewport()
    lead = web.api_get(f"/api/leads/{lead_id}").json()
    assert (lead["phone"], lead["status"]) == ("+972502345678", "contacted")
    reminders = web.api_get(f"/api/leads/{lead_id}/reminders").json()["items"]
    assert [r["text"] for r in reminders] == ["לחזור עם הצעת מחיר"]

    # Exit: back to the admin app, no banner.
    banner.get_by_role("button", name="יציאה").click()
    expect(page).to_have_url(re.compile(r"/admin/businesses$"))
    expect(page.get_by_test_id("impersonation-banner")).to_have_count(0)
    me = web.api_get("/api/auth/me").json()
    assert me["impersonating"] is False and me["role"] == "admin"

    # The audit log shows the start (with the reason) and the end.
    page.get_by_role("link", name="יומן פעולות").click()
    table = page.get_by_test_id("audit-table")
    expect(table).to_contain_text("impersonation.start")
    expect(table).to_contain_text("impersonation.end")
    expect(table).to_contain_text("בדיקת הגדרות לבקשת הלקוח")
    expect_rtl_hebrew(page)
    web.shots.take("audit")


def test_a_business_user_cannot_reach_admin_pages(web: Web, app: Flask) -> None:
    with app.app_context():
        business = make_business("מוסך הדגמה", voice_numbers=["03-555-0303"])
        make_user("owner@garage-demo.co.il", "business", business.id)
    page = web.page

    # A deep link while signed out: login, then back to where we were going.
    web.goto("/app/prompts")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapp%2Fprompts$"))
    expect_rtl_hebrew(page)
    sign_in(web, "owner@garage-demo.co.il", PASSWORD)
    expect(page).to_have_url(re.compile(r"/app/prompts$"))
    expect(page.get_by_test_id("whoami")).to_contain_text("owner@garage-demo.co.il")
    expect(page.get_by_test_id("impersonation-banner")).to_have_count(0)
    expect(page.get_by_role("link", name="עסקים")).to_have_count(0)
    expect(page.get_by_role("link", name="לידים")).to_be_visible()

    # The admin pages: a clear refusal, and the API refuses too (role_mismatch).
    for path in ("/admin/businesses", "/admin/users", "/admin/audit"):
        web.goto(path)
        expect(page.get_by_test_id("forbidden-page")).to_contain_text("אין לך גישה לעמוד הזה")
        expect(page.get_by_test_id("businesses-table")).to_have_count(0)
    web.shots.take("forbidden")
    refused = web.api_get("/api/admin/businesses")
    assert refused.status == 403 and refused.json()["reason"] == "role_mismatch"

    # The leads page: an empty business says so (no made-up rows).
    page.get_by_role("link", name="לידים").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("עוד אין לידים")
    expect_rtl_hebrew(page)
    main_clear_of_navbar(page)

    # English is a switch; Hebrew (right to left) comes back.
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(page.locator("main h2").first).to_have_text("Leads")
    main_clear_of_navbar(page)
    web.shots.take("english")
    page.get_by_test_id("lang-switch").click()
    expect_rtl_hebrew(page)
    main_clear_of_navbar(page)

    # Sign out: the app is closed again.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    web.goto("/app")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapp$"))
    expect(page.get_by_label("אימייל")).to_be_visible()


def test_prompt_editor_shows_the_servers_field_errors_and_the_limit(web: Web, app: Flask) -> None:
    with app.app_context():
        business = make_business("סטודיו הדגמה")
        make_user("owner@studio-demo.co.il", "business", business.id)
    page = web.page
    web.goto("/login")
    sign_in(web, "owner@studio-demo.co.il", PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))
    page.get_by_role("link", name="הנחיות לסוכן").click()

    # Over 20,000 characters: said at once, and nothing is sent.
    calls = page.get_by_label("הנחיה לסוכן השיחות")
    calls.fill("א" * 20_001)
    expect(page.get_by_test_id("count-calls_prompt")).to_have_text("20,001 / 20,000")
    expect(page.get_by_text("ארוך מדי: עד 20,000 תווים")).to_be_visible()
    expect(page.get_by_test_id("save-prompts")).to_be_disabled()

    # A refusal from the server lands on the field it names, and the state says "failed".
    def refuse(route: Any) -> None:
        if route.request.method != "PUT":
            route.continue_()
            return
        route.fulfill(
            status=422,
            content_type="application/json",
            body=(
                '{"error":"validation_error","reason":"invalid_fields","message":"Invalid input:'
                ' whatsapp_prompt.","fields":[{"field":"whatsapp_prompt","message":"Input should'
                ' be a valid string","type":"string_type"}]}'
            ),
        )

    page.route("**/api/business/current/prompt", refuse)
    calls.fill("שלום")
    page.get_by_label("הנחיה לסוכן הוואטסאפ").fill("היי")
    page.get_by_test_id("save-prompts").click()
    status = page.get_by_test_id("save-status")
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("השמירה נכשלה")
    expect(page.get_by_text("Input should be a valid string")).to_be_visible()
    web.shots.take("save-failed")

    # The real server takes the same pair.
    page.unroute("**/api/business/current/prompt")
    page.get_by_test_id("save-prompts").click()
    expect(status).to_have_attribute("data-state", "saved")
    stored = web.api_get("/api/business/current/prompt").json()
    assert (stored["calls_prompt"], stored["whatsapp_prompt"]) == ("שלום", "היי")


def test_admin_creates_a_business_user_whose_generated_password_works(
    web: Web, server: Any, chromium: Any, app: Flask
) -> None:
    with app.app_context():
        make_business("קליניקת הדגמה")
    page = web.page
    web.goto("/login")
    sign_in(web, server.admin_email, server.admin_password)
    page.get_by_role("link", name="משתמשים").click()
    expect(page.get_by_test_id("users-table")).to_contain_text(server.admin_email)

    # A business user needs a business; with none chosen the form says so and sends nothing.
    page.get_by_test_id("new-user").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("אימייל").fill("reception@clinic-demo.co.il")
    dialog.get_by_label("שם מלא").fill("דנה לוי")
    dialog.get_by_test_id("save-user").click()
    expect(dialog).to_contain_text("משתמש עסק חייב להיות משויך לעסק")
    dialog.get_by_label(re.compile(r"^עסק")).click()
    page.get_by_role("option", name="קליניקת הדגמה").click()
    dialog.get_by_test_id("save-user").click()

    # The generated password is shown once.
    password_dialog = page.get_by_role("dialog").filter(has_text="הסיסמה מוצגת פעם אחת בלבד")
    password = password_dialog.get_by_test_id("generated-password").inner_text().strip()
    assert len(password) >= 10
    web.shots.take("generated-password")
    password_dialog.get_by_role("button", name="סגירה").click()
    row = page.get_by_role("row").filter(has_text="reception@clinic-demo.co.il")
    expect(row).to_contain_text("קליניקת הדגמה")
    expect(row).to_contain_text("משתמש עסק")

    # The new user signs in with it, in another browser, and lands in the business app.
    other = chromium.new_context(locale="he-IL", timezone_id="Asia/Jerusalem")
    try:
        second = other.new_page()
        second.goto(f"{server.base}/login")
        second.get_by_label("אימייל").fill("reception@clinic-demo.co.il")
        second.locator("input[name=password]").fill(password)
        second.get_by_role("button", name="כניסה", exact=True).click()
        expect(second).to_have_url(re.compile(r"/app$"))
        expect(second.get_by_test_id("whoami")).to_contain_text("reception@clinic-demo.co.il")
    finally:
        other.close()

    # A reset makes a new one, shown once; the old one stops working.
    row.get_by_role("button", name="איפוס סיסמה").click()
    page.get_by_role("dialog").get_by_test_id("confirm").click()
    reset_dialog = page.get_by_role("dialog").filter(has_text="הסיסמה מוצגת פעם אחת בלבד")
    new_password = reset_dialog.get_by_test_id("generated-password").inner_text().strip()
    assert new_password and new_password != password
    reset_dialog.get_by_role("button", name="סגירה").click()
    old = web.context.request.post(
        f"{server.base}/api/auth/login",
        data={"email": "reception@clinic-demo.co.il", "password": password},
        headers={"Content-Type": "application/json"},
    )
    assert old.status == 401
    # That failed login must not have touched the admin's own session.
    expect(page.get_by_test_id("users-table")).to_be_visible()


# Where the first and the last character of an element's text are drawn: a right-to-left name starts
# on the right. "2 אחים (חיפה)" forced to ltr is drawn as "אחים (חיפה) 2" read from the right, the
# number at the wrong end ("קפה (חיפה) 2" happens to look the same either way).
FIRST_AND_LAST_X = """
(element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) if (walker.currentNode.textContent.trim()) nodes.push(walker.currentNode);
  const first = nodes[0], last = nodes[nodes.length - 1];
  const at = (node, index) => {
    const range = document.createRange();
    range.setStart(node, index);
    range.setEnd(node, index + 1);
    return range.getBoundingClientRect().x;
  };
  const end = last.textContent.trimEnd().length - 1;
  return { first: at(first, first.textContent.indexOf(first.textContent.trim()[0])), last: at(last, end) };
}
"""


def expect_name_right_to_left(name: Any) -> None:
    """A Hebrew name in its own isolate, laid out right to left (not forced to ltr)."""
    assert name.get_attribute("dir") in (None, "auto")
    assert name.evaluate("(element) => element.matches(':dir(rtl)')")
    x = name.evaluate(FIRST_AND_LAST_X)
    assert x["first"] > x["last"], f"the name is drawn left to right: {x}"


def test_admin_sets_provider_settings_and_a_hebrew_name_reads_right_to_left(web: Web, server: Any) -> None:
    page = web.page
    name = "2 אחים (חיפה)"
    sid = "MG0123456789abcdef0123456789abcdef"
    web.goto("/login")
    sign_in(web, server.admin_email, server.admin_password)
    expect(page).to_have_url(re.compile(r"/admin/businesses$"))

    # Create it with the WhatsApp provider settings; the token is write-only.
    page.get_by_test_id("new-business").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("שם העסק").fill(name)
    dialog.get_by_label("מספרי וואטסאפ").fill("050-234-5678")
    dialog.get_by_label("Twilio Messaging Service SID").fill(sid)
    dialog.get_by_label(re.compile("^Meta phone_number_id")).fill("1098765432")
    dialog.get_by_test_id("meta-access-token").fill("EAAG-secret-1")
    expect(dialog.get_by_test_id("meta-access-token")).to_have_attribute("type", "password")
    dialog.get_by_test_id("save-business").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_role("row").filter(has_text="+972502345678")
    expect(row).to_contain_text(name)
    expect_name_right_to_left(row.locator("bdi").first)
    listed = web.api_get("/api/admin/businesses").json()["items"]
    business = next(b for b in listed if b["name"] == name)
    assert business["meta_access_token_set"] is True
    assert business["twilio_messaging_service_sid"] == sid
    assert "EAAG" not in str(listed)

    def edit() -> Any:
        row.get_by_role("button", name="עריכה").click()
        form = page.get_by_test_id("business-form")
        expect(form).to_be_visible()
        return form

    def save(form: Any) -> None:
        form.get_by_test_id("save-business").click()
        expect(form).to_be_hidden()

    def stored() -> Any:
        return web.api_get(f"/api/admin/businesses/{business['id']}").json()

    # Edit: never filled from the server, shown as "set"; saving an empty box keeps it.
    form = edit()
    expect(form.get_by_test_id("meta-access-token")).to_have_value("")
    expect(form.get_by_test_id("meta-token-state")).to_have_text("מוגדר")
    expect(form.get_by_label("Twilio Messaging Service SID")).to_have_value(sid)
    web.shots.take("provider-settings")
    form.get_by_label("Twilio Messaging Service SID").fill("MGfedcba9876543210fedcba9876543210")
    save(form)
    assert stored()["meta_access_token_set"] is True
    assert stored()["twilio_messaging_service_sid"] == "MGfedcba9876543210fedcba9876543210"

    # Remove it, then set a new one.
    form = edit()
    form.get_by_test_id("meta-token-clear").check()
    expect(form.get_by_test_id("meta-access-token")).to_be_disabled()
    save(form)
    assert stored()["meta_access_token_set"] is False
    form = edit()
    expect(form.get_by_test_id("meta-token-state")).to_have_text("לא מוגדר")
    expect(form.get_by_test_id("meta-token-clear")).to_have_count(0)
    form.get_by_test_id("meta-access-token").fill("EAAG-secret-2")
    save(form)
    assert stored()["meta_access_token_set"] is True

    # Impersonating it: the banner's name is isolated and reads right to left.
    row.get_by_role("button", name="התחזות").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("סיבת ההתחזות").fill("בדיקת כיווניות")
    dialog.get_by_test_id("start-impersonation").click()
    banner = page.get_by_test_id("impersonation-banner")
    expect(banner).to_contain_text(f"צופה כ־{name}")
    expect_name_right_to_left(banner.locator("bdi").first)
    web.shots.take("banner-hebrew-name")
    banner.get_by_role("button", name="יציאה").click()
    expect(page).to_have_url(re.compile(r"/admin/businesses$"))


def test_business_pickers_and_names_reach_past_the_first_page(web: Web, server: Any, app: Flask) -> None:
    """More businesses than one page of the list (200): the user and audit pages still name them,
    and the pickers find any of them by a part of the name."""
    with app.app_context():
        for index in range(205):
            make_business(f"סלון {index:03d}")
        edge = make_business("תחנת קצה")  # sorts after all of them
        make_user("owner@edge-demo.co.il", "business", edge.id)
    page = web.page
    web.goto("/login")
    sign_in(web, server.admin_email, server.admin_password)
    expect(page).to_have_url(re.compile(r"/admin/businesses$"))

    # The users table names the business, though it is not on the list's first page.
    page.get_by_role("link", name="משתמשים").click()
    row = page.get_by_role("row").filter(has_text="owner@edge-demo.co.il")
    expect(row).to_contain_text("תחנת קצה")

    # The filter finds it by a fragment, and only its user is listed.
    picker = page.get_by_test_id("users-business-filter")
    picker.fill("קצה")
    page.get_by_role("option", name="תחנת קצה").click()
    expect(page.get_by_test_id("users-table").get_by_role("row")).to_have_count(2)
    expect(row).to_be_visible()

    # A new user of that business, picked in the form the same way.
    page.get_by_test_id("new-user").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("אימייל").fill("desk@edge-demo.co.il")
    dialog.get_by_test_id("user-business").fill("קצה")
    page.get_by_role("option", name="תחנת קצה").click()
    dialog.get_by_test_id("save-user").click()
    page.get_by_role("dialog").filter(has_text="הסיסמה מוצגת פעם אחת בלבד").get_by_role(
        "button", name="סגירה"
    ).click()
    created = web.api_get("/api/admin/users?q=desk@edge-demo.co.il").json()["items"]
    assert [user["business_id"] for user in created] == [edge.id]
    expect(page.get_by_role("row").filter(has_text="desk@edge-demo.co.il")).to_contain_text("תחנת קצה")
    web.shots.take("users-far-business")

    # The audit log: filtered by it, its rows carry its name.
    page.get_by_role("link", name="יומן פעולות").click()
    page.get_by_test_id("audit-business-filter").fill("קצה")
    page.get_by_role("option", name="תחנת קצה").click()
    table = page.get_by_test_id("audit-table")
    expect(table).to_contain_text("desk@edge-demo.co.il")
    expect(table.get_by_role("row").nth(1)).to_contain_text("תחנת קצה")
    web.shots.take("audit-far-business")
