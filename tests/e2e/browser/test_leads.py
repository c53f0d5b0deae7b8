"""The leads CRM in a real browser: a business user's table, duplicate phones, a phone the server keeps
with a warning, CSV import (dry run with per-row errors, then the real import), bulk status, and the
notifications bell for a reminder that fired."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from flask import Flask

from tests.conftest import PASSWORD, make_business, make_user
from tests.e2e.browser.conftest import Web
from tests.e2e.browser.test_web_app import expect_rtl_hebrew, sign_in
from tests.reminders.helpers import insert_due_reminder, make_lead

try:
    from playwright.sync_api import expect
except ImportError:
    expect = None  # type: ignore[assignment]

CSV = (
    "name,phone,email,status\n"
    "רונית לוי,052-765-4321,,new\n"
    "יוסי אברהם,12,,new\n"  # an impossible phone: an error on row 3
    "בלי פרטים,,,new\n"  # neither phone nor email: an error on row 4
    "שירה כץ,+972 54 111 2233,shira@example.co.il,contacted\n"
)


def wait_for(check: Any, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_business_user_works_the_leads_table_import_and_bell(web: Web, app: Flask) -> None:
    with app.app_context():
        business = make_business("נגריית הדגמה")
        make_user("owner@carpentry-demo.co.il", "business", business.id)
    page = web.page
    web.goto("/app/leads")
    sign_in(web, "owner@carpentry-demo.co.il", PASSWORD)
    expect(page).to_have_url(re.compile(r"/app/leads$"))
    expect(page.get_by_test_id("empty-state")).to_contain_text("עוד אין לידים")
    expect_rtl_hebrew(page)

    # A lead with a phone typed without dashes.
    page.get_by_test_id("new-lead").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("שם", exact=True).fill("משה פרץ")
    dialog.get_by_test_id("lead-phone").fill("0502345678")
    dialog.get_by_test_id("save-lead").click()
    expect(page).to_have_url(re.compile(r"/app/leads/\d+$"))
    first_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("lead-page")).to_contain_text("+972502345678")

    # The same number in another format: 409 duplicate_phone, with a link to the lead that has it.
    page.get_by_role("link", name="חזרה ללידים").click()
    page.get_by_test_id("new-lead").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("שם", exact=True).fill("משה שוב")
    dialog.get_by_test_id("lead-phone").fill("+972-50-234-5678")
    dialog.get_by_test_id("save-lead").click()
    duplicate = dialog.get_by_test_id("duplicate-phone")
    expect(duplicate).to_contain_text("כבר יש ליד עם המספר הזה")
    web.shots.take("duplicate-phone")
    duplicate.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/app/leads/{first_id}$"))

    # A possible-but-unassigned number is kept, with a warning on the field.
    page.get_by_test_id("lead-form").get_by_test_id("lead-phone").fill("059-123-4567")
    page.get_by_test_id("save-lead-fields").click()
    expect(page.get_by_test_id("phone-warning")).to_be_visible()
    expect(page.get_by_test_id("lead-form").get_by_test_id("lead-phone")).to_have_value("+972591234567")
    web.shots.take("phone-warning")

    # A reminder; when it fires, the bell counts it and opens the lead.
    page.get_by_test_id("reminder-text").fill("להתקשר אחרי הצהריים")
    page.get_by_test_id("add-reminder").click()
    expect(page.get_by_test_id("reminder-list")).to_contain_text("להתקשר אחרי הצהריים")
    with app.app_context():
        from server.db import utcnow
        from server.reminders.firing import fire_due

        assert fire_due(now=utcnow() + timedelta(days=2)) == 1
    page.reload()
    expect(page.get_by_test_id("bell-count")).to_contain_text("1")
    page.get_by_test_id("bell").click()
    panel = page.get_by_test_id("bell-panel")
    expect(panel).to_contain_text("להתקשר אחרי הצהריים")
    web.shots.take("bell")
    panel.get_by_role("button").filter(has_text="להתקשר אחרי הצהריים").click()
    expect(page).to_have_url(re.compile(rf"/app/leads/{first_id}$"))
    wait_for(lambda: web.api_get("/api/notifications").json()["unread_count"] == 0, "still unread")

    # CSV import: the dry run names the rows in error and saves nothing; then the real import.
    page.get_by_role("link", name="חזרה ללידים").click()
    page.get_by_test_id("import-leads").click()
    modal = page.get_by_test_id("import-modal")
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": CSV.encode("utf-8")}]
    )
    modal.get_by_test_id("import-check").click()
    report = modal.get_by_test_id("import-dry-run")
    expect(report.get_by_test_id("import-rows")).to_have_text("4")
    expect(report.get_by_test_id("import-created")).to_have_text("2")
    errors = report.get_by_test_id("import-errors")
    expect(
        errors.get_by_role("row").filter(has=page.get_by_role("cell", name="3", exact=True))
    ).to_have_count(1)
    expect(
        errors.get_by_role("row").filter(has=page.get_by_role("cell", name="4", exact=True))
    ).to_have_count(1)
    web.shots.take("import-dry-run")
    assert len(web.api_get("/api/leads").json()["items"]) == 1  # nothing saved by the dry run
    modal.get_by_test_id("import-run").click()
    expect(modal.get_by_test_id("import-done").get_by_test_id("import-created")).to_have_text("2")
    modal.get_by_role("button", name="סגירה").click()

    # The table shows all three; two selected rows move to "qualified" together.
    table = page.get_by_test_id("leads-table")
    expect(table).to_contain_text("+972527654321")
    expect(table).to_contain_text("shira@example.co.il")
    expect(page.get_by_test_id("leads-loaded")).to_contain_text("3")
    for name in ("רונית לוי", "שירה כץ"):
        table.get_by_role("row").filter(has_text=name).get_by_role("checkbox").check()
    expect(page.get_by_test_id("bulk-bar")).to_contain_text("2 נבחרו")
    page.get_by_test_id("bulk-status").click()
    page.get_by_role("option", name="מתאים").click()
    page.get_by_test_id("bulk-apply").click()
    expect(table.get_by_role("row").filter(has_text="רונית לוי")).to_contain_text("מתאים")
    expect(table.get_by_role("row").filter(has_text="שירה כץ")).to_contain_text("מתאים")
    leads = web.api_get("/api/leads?status=qualified").json()["items"]
    assert sorted(lead["full_name"] for lead in leads) == ["רונית לוי", "שירה כץ"]

    # Search and status filters land in the URL; export carries the same filters.
    page.get_by_test_id("lead-search").fill("שירה")
    expect(page).to_have_url(re.compile(r"q=%D7%A9"))
    expect(table.get_by_role("row")).to_have_count(2)  # the header and one lead
    href = page.get_by_test_id("export-leads").get_attribute("href")
    assert href and href.startswith("/api/leads/export.csv?") and "q=" in href
    exported = web.api_get(href).text()
    assert "שירה כץ" in exported and "רונית לוי" not in exported
    web.shots.take("table-filtered")

    # The board by keyboard: focus a card, an arrow key moves it to the next column.
    page.get_by_test_id("lead-search").fill("")
    page.get_by_test_id("leads-view").get_by_text("לוח").click()
    card = page.get_by_test_id(f"board-card-{first_id}")
    expect(page.get_by_test_id("board-column-new").get_by_test_id(f"board-card-{first_id}")).to_be_visible()
    card.focus()
    page.keyboard.press("ArrowLeft")  # right to left: the next column is on the left
    expect(
        page.get_by_test_id("board-column-contacted").get_by_test_id(f"board-card-{first_id}")
    ).to_be_visible()
    wait_for(
        lambda: web.api_get(f"/api/leads/{first_id}").json()["status"] == "contacted",
        "keyboard move not saved",
    )
    web.shots.take("board-keyboard")


def test_a_refused_board_move_rolls_back_with_a_toast(web: Web, app: Flask) -> None:
    with app.app_context():
        business = make_business("מספרת רולבק")
        make_user("owner@rollback-demo.co.il", "business", business.id)
    page = web.page
    web.goto("/login")
    sign_in(web, "owner@rollback-demo.co.il", PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))
    web.goto("/app/leads?view=board")
    page.get_by_test_id("new-lead").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_test_id("lead-phone").fill("054-555-1212")
    dialog.get_by_test_id("save-lead").click()
    expect(page).to_have_url(re.compile(r"/app/leads/\d+$"))
    lead_id = int(page.url.rsplit("/", 1)[1])
    web.goto("/app/leads?view=board")

    def refuse(route: Any) -> None:
        if route.request.method == "PATCH":
            route.fulfill(
                status=500,
                content_type="application/json",
                body='{"error":"server_error","reason":"internal_error","message":"database unavailable"}',
            )
        else:
            route.continue_()

    expect(page.get_by_test_id("board-column-new").get_by_test_id(f"board-card-{lead_id}")).to_be_visible()
    page.wait_for_load_state("networkidle")

    # The columns are read again after the refusal; those reads are held until the checks are
    # done, so the card can only be back in "new" because the board put it back (the rollback).
    held: list[Any] = []

    def hold_column_reads(route: Any) -> None:
        if route.request.method == "GET":
            held.append(route)
        else:
            route.continue_()

    page.route(f"**/api/leads/{lead_id}", refuse)
    page.route(re.compile(r"/api/leads\?"), hold_column_reads)
    page.get_by_test_id(f"move-menu-{lead_id}").click()
    page.get_by_test_id("move-to-won").click()
    toast = page.get_by_role("alert").filter(has_text=re.compile(r"ההעברה של \W*\+972545551212\W* נכשלה"))
    expect(toast).to_contain_text("database unavailable")
    expect(page.get_by_test_id("board-column-new").get_by_test_id(f"board-card-{lead_id}")).to_be_visible()
    expect(page.get_by_test_id("board-column-won").get_by_test_id(f"board-card-{lead_id}")).to_have_count(0)
    for _ in range(50):  # page.wait_for_timeout lets Playwright hand the requests to the handler
        if len(held) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(held) >= 2, "the columns were not read again after the refusal"
    web.shots.take("rolled-back")

    # The held reads land: the server agrees, the card stays where it is.
    page.unroute(re.compile(r"/api/leads\?"), hold_column_reads)
    for route in held:
        route.continue_()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("board-column-new").get_by_test_id(f"board-card-{lead_id}")).to_be_visible()
    assert web.api_get(f"/api/leads/{lead_id}").json()["status"] == "new"


def expect_idle(web: Web, where: str) -> None:
    """Nobody touches the page: React commits nothing and nothing is fetched (a value that is new on
    every render, fed to a debounce, re-rendered these pages every 300 ms forever)."""
    activity = web.activity_while_idle(1.5)
    assert activity["commits"] <= 1 and activity["requests"] == 0, f"{where} is busy while idle: {activity}"


def test_idle_pages_stay_still_and_the_search_box_follows_the_url(web: Web, app: Flask, server: Any) -> None:
    with app.app_context():
        business = make_business("מכון הדגמה")
        make_user("owner@idle-demo.co.il", "business", business.id)
        make_lead(business.id, "050-234-5678", "שירה כץ")
        make_lead(business.id, "052-765-4321", "רונית לוי")
    page = web.page
    web.goto("/login")
    sign_in(web, "owner@idle-demo.co.il", PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))

    page.get_by_test_id("nav-app-leads").click()
    table = page.get_by_test_id("leads-table")
    expect(table.get_by_role("row")).to_have_count(3)
    expect_idle(web, "the leads table")
    search = page.get_by_test_id("lead-search")
    search.fill("שירה")
    expect(page).to_have_url(re.compile(r"q=%D7%A9"))
    expect(table.get_by_role("row")).to_have_count(2)
    expect_idle(web, "the searched leads table")
    page.get_by_test_id("leads-view").get_by_text("לוח").click()
    expect(page.get_by_test_id("leads-board")).to_contain_text("שירה כץ")
    expect_idle(web, "the leads board")
    page.get_by_test_id("leads-view").get_by_text("טבלה").click()
    expect(table.get_by_role("row")).to_have_count(2)

    # A link to the unfiltered page: the box empties instead of typing the old search back in.
    page.get_by_test_id("nav-app-leads").click()
    expect(page).to_have_url(re.compile(r"/app/leads$"))
    expect(search).to_have_value("")
    expect(table.get_by_role("row")).to_have_count(3)
    page.wait_for_timeout(700)
    expect(page).to_have_url(re.compile(r"/app/leads$"))
    # Back: the search returns to the box and the URL, and stays.
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=%D7%A9"))
    expect(search).to_have_value("שירה")
    expect(table.get_by_role("row")).to_have_count(2)
    page.wait_for_timeout(700)
    expect(page).to_have_url(re.compile(r"q=%D7%A9"))
    expect_idle(web, "the leads table after Back")

    # The audit log (an admin), with a filter typed.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    sign_in(web, server.admin_email, server.admin_password)
    expect(page).to_have_url(re.compile(r"/admin/businesses$"))
    page.get_by_role("link", name="יומן פעולות").click()
    expect(page.get_by_test_id("audit-table")).to_be_visible()
    expect_idle(web, "the audit log")
    page.get_by_label("פעולה").fill("auth")
    expect_idle(web, "the filtered audit log")
    web.shots.take("audit-idle")


def add_call(business_id: int, sid: str, started_at: Any, status: str, ai_outcome: str, **kw: Any) -> None:
    from server.calls.models import Call
    from server.db import db_session

    db_session.add(
        Call(
            business_id=business_id,
            call_sid=sid,
            from_number=kw.pop("from_number", "+972502345678"),
            to_number="+97235550199",
            status=status,
            ai_outcome=ai_outcome,
            started_at=started_at,
            **kw,
        )
    )
    db_session.commit()
    db_session.remove()


def test_the_dashboard_shows_todays_reminders_new_leads_calls_and_waiting(web: Web, app: Flask) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from server.db import utcnow
    from server.leads.models import Lead

    with app.app_context():
        business = make_business("מרפאת הדגמה")
        make_user("owner@dashboard-demo.co.il", "business", business.id)
        fresh = make_lead(business.id, "050-234-5678", "יעל חדשה")
        handled = make_lead(business.id, "052-765-4321", "עמית טופל")
        from server.db import db_session

        db_session.get(Lead, handled).status = "contacted"  # type: ignore[union-attr]
        db_session.commit()
        db_session.remove()
        reminder = insert_due_reminder(business.id, fresh, text="להתקשר בחזרה")
        now = utcnow()
        midnight = datetime.now(ZoneInfo("Asia/Jerusalem")).replace(hour=0, minute=0, second=0, microsecond=0)
        add_call(business.id, "CA01", now - timedelta(seconds=3), "completed", "ok", caller_name="רחל")
        add_call(
            business.id,
            "CA02",
            now - timedelta(seconds=2),
            "no-answer",
            "pending",
            from_number="+972541112233",
        )
        add_call(
            business.id, "CA03", now - timedelta(seconds=1), "completed", "unreachable", caller_name="נועם"
        )
        add_call(
            business.id, "CA04", midnight - timedelta(minutes=5), "no-answer", "pending", caller_name="אתמול"
        )
    page = web.page
    web.goto("/login")
    sign_in(web, "owner@dashboard-demo.co.il", PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))

    reminders = page.get_by_test_id("dashboard-reminders")
    expect(reminders).to_contain_text("להתקשר בחזרה")
    # Due a minute ago: in the "overdue" and the "today" windows both, listed once.
    expect(reminders.get_by_test_id(f"dashboard-reminder-{reminder}")).to_have_count(1)
    new_leads = page.get_by_test_id("dashboard-new-leads")
    expect(new_leads).to_contain_text("יעל חדשה")
    expect(new_leads).not_to_contain_text("עמית טופל")  # moved on: not new any more
    calls = page.get_by_test_id("dashboard-calls")
    expect(calls.get_by_test_id("calls-today")).to_have_text("3")  # yesterday's is not today's
    expect(calls.get_by_test_id("calls-missed")).to_have_text("2")  # no answer, and the AI unreachable
    expect(calls).to_contain_text("+972541112233")
    expect(calls).not_to_contain_text("אתמול")
    expect(page.get_by_test_id("dashboard-waiting")).to_be_visible()
    expect_rtl_hebrew(page)
    web.shots.take("dashboard")
    calls.get_by_role("link", name="נועם").click()
    expect(page).to_have_url(re.compile(r"/app/calls\?call=\d+$"))
    expect(page.get_by_test_id("call-detail")).to_be_visible()


def test_writes_do_not_read_every_loaded_page_again(web: Web, app: Flask) -> None:
    """450 leads loaded in the table (three pages of 200): a bulk status change reads no page, an
    import reads the first page only, and a board move leaves the table to read one page."""
    with app.app_context():
        business = make_business("מוקד הדגמה")
        make_user("owner@paging-demo.co.il", "business", business.id)
        for index in range(450):
            make_lead(business.id, f"+97252{1_000_000 + index}", f"ליד {index:03d}")
    page = web.page
    table_pages: list[str] = []  # GET /api/leads of the table (200 a page; the board asks for 30)
    page.on(
        "request",
        lambda r: (
            table_pages.append(r.url)
            if r.method == "GET" and "/api/leads?" in r.url and "limit=200" in r.url
            else None
        ),
    )
    web.goto("/login")
    sign_in(web, "owner@paging-demo.co.il", PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))
    page.get_by_test_id("nav-app-leads").click()
    table = page.get_by_test_id("leads-table")
    loaded = page.get_by_test_id("leads-loaded")

    def load_everything(total: int) -> None:
        expect(loaded).to_contain_text("200")
        for _ in range(100):
            if str(total) in loaded.inner_text():
                break
            table.evaluate("(box) => { box.scrollTop = box.scrollHeight; }")
            page.wait_for_timeout(100)
        expect(loaded).to_contain_text(str(total))
        page.wait_for_load_state("networkidle")

    def table_reads_after(action: Any) -> int:
        table_pages.clear()
        action()
        page.wait_for_timeout(1000)
        page.wait_for_load_state("networkidle")
        return len(table_pages)

    load_everything(450)
    assert len(table_pages) == 3

    # Bulk status: the two rows change where they are; no page is read again.
    def bulk() -> None:
        table.evaluate("(box) => { box.scrollTop = 0; }")
        for row in (1, 2):
            table.get_by_role("row").nth(row).get_by_role("checkbox").check()
        page.get_by_test_id("bulk-status").click()
        page.get_by_role("option", name="מתאים").click()
        page.get_by_test_id("bulk-apply").click()
        expect(table.get_by_role("row").nth(1)).to_contain_text("מתאים")
        expect(table.get_by_role("row").nth(2)).to_contain_text("מתאים")

    assert table_reads_after(bulk) == 0
    expect(loaded).to_contain_text("450")
    assert {lead["full_name"] for lead in web.api_get("/api/leads?status=qualified").json()["items"]} == {
        "ליד 449",
        "ליד 448",
    }

    # An import adds leads: the list starts again from its first page, one request.
    def import_one() -> None:
        page.get_by_test_id("import-leads").click()
        modal = page.get_by_test_id("import-modal")
        page.locator("input[type=file]").set_input_files(
            files=[
                {
                    "name": "one.csv",
                    "mimeType": "text/csv",
                    "buffer": "name,phone\nחדש מיבוא,054-999-8877\n".encode(),
                }
            ]
        )
        modal.get_by_test_id("import-check").click()
        expect(modal.get_by_test_id("import-dry-run").get_by_test_id("import-created")).to_have_text("1")
        modal.get_by_test_id("import-run").click()
        expect(modal.get_by_test_id("import-done").get_by_test_id("import-created")).to_have_text("1")
        modal.get_by_role("button", name="סגירה").click()
        expect(table.get_by_role("row").nth(1)).to_contain_text("חדש מיבוא")

    assert table_reads_after(import_one) == 1
    expect(loaded).to_contain_text("200")

    # The board while the table is hidden: a move edits the table's rows in place, and the table,
    # which kept only its first page, reads at most that one page when it is shown again.
    load_everything(451)

    def board_move_and_back() -> None:
        page.get_by_test_id("leads-view").get_by_text("לוח").click()
        card = page.get_by_test_id("board-column-new").locator("[data-testid^=board-card-]").first
        lead_id = card.get_attribute("data-testid").rsplit("-", 1)[1]  # type: ignore[union-attr]
        page.get_by_test_id(f"move-menu-{lead_id}").click()
        page.get_by_test_id("move-to-won").click()
        expect(
            page.get_by_test_id("board-column-won").get_by_test_id(f"board-card-{lead_id}")
        ).to_be_visible()
        wait_for(lambda: web.api_get(f"/api/leads/{lead_id}").json()["status"] == "won", "move not saved")
        page.get_by_test_id("leads-view").get_by_text("טבלה").click()
        expect(table.locator(f"[data-lead-id='{lead_id}']")).to_contain_text("נסגר")

    assert table_reads_after(board_move_and_back) <= 1
    expect(loaded).to_contain_text("200")
    web.shots.take("after-writes")
