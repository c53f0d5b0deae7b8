"""A failed WhatsApp message in the inbox: the "failed" filter finds its conversation, "send again"
sends it through the provider (a fake Twilio on a real socket) and the bubble's ticks follow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.conftest import PASSWORD, make_business, make_user
from tests.e2e.browser.conftest import Web
from tests.e2e.browser.test_inbox_and_reminders import make_conversation
from tests.e2e.browser.test_web_app import sign_in
from tests.fakes import whatsapp_twilio
from tests.fakes.whatsapp_http import wait_for
from tests.fakes.whatsapp_twilio import FakeTwilio

try:
    from playwright.sync_api import expect
except ImportError:
    expect = None  # type: ignore[assignment]


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def server_env(twilio: FakeTwilio) -> dict[str, str]:
    twilio.reset()
    return {
        "TWILIO_ACCOUNT_SID": whatsapp_twilio.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": whatsapp_twilio.AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio.base,
    }


def _failed_reply(conversation_id: int, business_id: int) -> int:
    from server.db import db_session, utcnow
    from server.whatsapp.models import Conversation, Message

    message = Message(
        business_id=business_id,
        conversation_id=conversation_id,
        direction="out",
        author="human",
        provider="twilio",
        text="התור שלך מחר ב-10:00",
        status="failed",
        error_code="30003",
        error_message="Unreachable destination handset",
        attempts=5,
        created_at=utcnow(),
    )
    db_session.add(message)
    conversation = db_session.get(Conversation, conversation_id)
    assert conversation is not None
    conversation.last_message_at = utcnow()
    db_session.commit()
    message_id = message.id
    db_session.remove()
    return message_id


def test_a_failed_message_is_found_and_sent_again(web: Web, app: Flask, twilio: FakeTwilio) -> None:
    with app.app_context():
        business = make_business("מספרת ניסיון חוזר", whatsapp_numbers=["+97235550199"])
        make_user("owner@retry-demo.co.il", "business", business.id)
        make_conversation(business.id, 2, phone="+972521112233", name="שי לוי")  # all went through
        failing = make_conversation(business.id, 2)
        _failed_reply(failing, business.id)
    page = web.page
    web.goto("/app/inbox")
    sign_in(web, "owner@retry-demo.co.il", PASSWORD)
    listing = page.get_by_test_id("conversation-list")
    expect(listing.locator("[data-testid^=conversation-]")).to_have_count(2)
    page.get_by_text("נכשלו", exact=True).click()  # the "failed" filter
    expect(listing.locator("[data-testid^=conversation-]")).to_have_count(1)
    listing.get_by_text("אורית בן דוד").click()

    retry = page.get_by_test_id("retry-message")
    expect(retry).to_have_count(1)
    web.shots.take("failed-message")
    retry.click()
    send = wait_for(lambda: twilio.sends, timeout=15)[0]
    assert send.body == "התור שלך מחר ב-10:00" and send.form["To"] == "whatsapp:+972502345678"
    expect(retry).to_have_count(0)  # the same row, sent this time
    expect(page.get_by_test_id("messages").locator("[data-status=failed]")).to_have_count(0)
    web.shots.take("sent-again")
