"""The WhatsApp inbox's older messages (before_id paging) and rescheduling a reminder, in a real
browser against the real server."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from tests.conftest import PASSWORD, make_business, make_user
from tests.e2e.browser.conftest import Web
from tests.e2e.browser.test_web_app import sign_in
from tests.reminders.helpers import make_lead, make_reminder

try:
    from playwright.sync_api import expect
except ImportError:
    expect = None  # type: ignore[assignment]

ISRAEL = ZoneInfo("Asia/Jerusalem")


def make_conversation(
    business_id: int, messages: int, phone: str = "+972502345678", name: str = "אורית בן דוד"
) -> int:
    """A conversation whose messages alternate customer / AI, "הודעה 01" the oldest."""
    from server.db import db_session, utcnow
    from server.whatsapp.models import Conversation, Message

    now = utcnow()
    conversation = Conversation(
        business_id=business_id,
        customer_key=phone,
        customer_phone=phone,
        customer_name=name,
        provider="twilio",
        business_address="+97235550199",
        last_message_at=now,
        last_inbound_at=now,
        last_preview=f"הודעה {messages:02d}",
    )
    db_session.add(conversation)
    db_session.flush()
    for index in range(1, messages + 1):
        inbound = index % 2 == 1
        db_session.add(
            Message(
                business_id=business_id,
                conversation_id=conversation.id,
                direction="in" if inbound else "out",
                author="customer" if inbound else "ai",
                provider="twilio",
                provider_message_id=f"SM{conversation.id:04d}{index:04d}",
                text=f"הודעה {index:02d}",
                status="received" if inbound else "delivered",
                created_at=now - timedelta(minutes=messages - index),
            )
        )
    db_session.commit()
    conversation_id = conversation.id
    db_session.remove()
    return conversation_id


def test_the_inbox_pages_back_to_older_messages(web: Web, app: Flask) -> None:
    with app.app_context():
        business = make_business("סטודיו שיחות")
        make_user("owner@inbox-demo.co.il", "business", business.id)
        conversation = make_conversation(business.id, 70)
    page = web.page
    web.goto(f"/app/inbox?c={conversation}")
    sign_in(web, "owner@inbox-demo.co.il", PASSWORD)
    thread = page.get_by_test_id("messages")
    bubbles = thread.locator("[data-testid^=message-]")

    # The latest 50 (21..70), the newest in view; the older ones a click away.
    expect(thread).to_contain_text("הודעה 70")
    expect(bubbles).to_have_count(50)
    expect(thread).not_to_contain_text("הודעה 20")
    thread.evaluate("(box) => { box.scrollTop = 0; }")
    page.get_by_test_id("older-messages").click()
    expect(bubbles).to_have_count(70)
    expect(bubbles.first).to_have_text(re.compile("הודעה 01"))
    expect(page.get_by_test_id("older-messages")).to_have_count(0)
    # What was on top before stays in view: the older ones went above it.
    assert thread.evaluate("(box) => box.scrollTop") > 0
    expect(thread.get_by_text("הודעה 21", exact=True)).to_be_in_viewport()
    web.shots.take("older-messages")

    # The 10-second poll keeps them all (the older pages are read again with it).
    page.wait_for_timeout(11_000)
    expect(bubbles).to_have_count(70)


def test_a_reminder_is_rescheduled_to_a_time_of_your_choice(web: Web, app: Flask) -> None:
    with app.app_context():
        business = make_business("מספרת מועדים")
        make_user("owner@reschedule-demo.co.il", "business", business.id)
        lead = make_lead(business.id, "050-234-5678", "דנה כהן")
        reminder = make_reminder(business.id, lead, datetime.now(ISRAEL) + timedelta(days=1), text="להתקשר")
    page = web.page
    web.goto(f"/app/leads/{lead}")
    sign_in(web, "owner@reschedule-demo.co.il", PASSWORD)
    row = page.get_by_test_id(f"reminder-{reminder}")
    expect(row).to_contain_text("להתקשר")

    wanted = (datetime.now(ISRAEL) + timedelta(days=3)).replace(hour=16, minute=45, second=0, microsecond=0)
    page.get_by_test_id(f"reminder-menu-{reminder}").click()
    page.get_by_test_id(f"reminder-reschedule-{reminder}").click()
    page.get_by_test_id(f"reschedule-due-{reminder}").fill(wanted.strftime("%Y-%m-%dT%H:%M"))
    web.shots.take("reschedule")
    page.get_by_test_id(f"reschedule-save-{reminder}").click()
    expect(page.get_by_test_id(f"reschedule-form-{reminder}")).to_have_count(0)
    expect(row).to_contain_text("16:45")

    stored = web.api_get(f"/api/leads/{lead}/reminders").json()["items"]
    due = datetime.fromisoformat(stored[0]["due_at"]).astimezone(ISRAEL)
    assert due == wanted
