"""The WhatsApp agent against fake Twilio, Meta and OpenAI servers on real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from server.admin import service as admin_service
from server.admin.schemas import BusinessPatchIn
from server.auth.context import TenantId
from server.business import service as business_service
from server.db import db_session
from server.jobs import huey
from server.whatsapp.models import Conversation, InboundEvent, Message
from tests.conftest import World
from tests.fakes import openai_chat, whatsapp_meta, whatsapp_twilio
from tests.fakes.openai_chat import FakeOpenAIChat
from tests.fakes.whatsapp_meta import FakeMetaGraph
from tests.fakes.whatsapp_twilio import FakeTwilio

PUBLIC = "https://crm.example.co.il"
NUMBER_A, NUMBER_B = "+97235550111", "+97235550222"  # the businesses' Twilio WhatsApp senders
PNID_A, PNID_B = "106540352242922", "206540352242922"  # their Meta phone_number_ids
TOKEN_A, TOKEN_B = "EAAG-token-of-a", "EAAG-token-of-b"
CUSTOMER = "+972501234567"
DATA_KEY = Fernet.generate_key().decode()


@dataclass
class Fakes:
    twilio: FakeTwilio
    meta: FakeMetaGraph
    ai: FakeOpenAIChat


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    servers = Fakes(FakeTwilio().start(), FakeMetaGraph().start(), FakeOpenAIChat().start())
    yield servers
    for server in (servers.twilio, servers.meta, servers.ai):
        server.stop()


@dataclass
class WA:
    """Acts as Twilio and Meta toward the app (signed webhooks) and reads what the app stored."""

    app: Flask
    world: World
    fakes: Fakes

    @property
    def client(self) -> Any:
        return self.app.test_client()

    def twilio(self, form: dict[str, str], path: str = "/webhook/whatsapp/twilio", **kw: Any) -> TestResponse:
        return whatsapp_twilio.post_signed(self.client, path, form, signed_url=PUBLIC + path, **kw)

    def twilio_text(self, body: str, frm: str = CUSTOMER, to: str = NUMBER_A, **extra: str) -> TestResponse:
        return self.twilio(whatsapp_twilio.inbound_form(frm, to, body, **extra))

    def meta(self, payload: dict[str, Any], secret: str = whatsapp_meta.APP_SECRET) -> TestResponse:
        raw, headers = whatsapp_meta.signed(payload, secret)
        return self.client.post("/webhook/whatsapp/meta", data=raw, headers=headers)

    def count(self, model: Any) -> int:
        db_session.remove()
        return int(db_session.scalar(select(func.count()).select_from(model)) or 0)

    def counts(self) -> tuple[int, int, int]:
        return self.count(InboundEvent), self.count(Message), self.count(Conversation)

    def conversation(self, business_id: int, phone: str = CUSTOMER) -> Conversation:
        db_session.remove()
        found = db_session.scalar(
            select(Conversation).where(
                Conversation.business_id == business_id, Conversation.customer_phone == phone
            )
        )
        assert found is not None
        return found

    def messages(self, conversation_id: int) -> list[Message]:
        db_session.remove()
        return list(
            db_session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )
        )

    def set_last_inbound(self, conversation_id: int, at: datetime) -> None:
        conversation = db_session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.last_inbound_at = at
        db_session.commit()

    def run_task(self, task: Any) -> Any:
        """Run a periodic task as the consumer would (with the app's settings)."""
        with self.app.app_context():
            return task()

    def run_scheduled(self, rounds: int = 20) -> int:
        """Run what Huey scheduled for later (retries with backoff), as its scheduler would."""
        ran = 0
        for _ in range(rounds):
            tasks = huey.read_schedule(datetime(2100, 1, 1))
            if not tasks:
                break
            for task in tasks:
                with self.app.app_context():
                    huey.execute(task, timestamp=datetime(2100, 1, 1))
                ran += 1
        return ran


@pytest.fixture
def wa(app: Flask, world: World, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> Iterator[WA]:
    settings = app.extensions["settings"]
    values = {
        "twilio_account_sid": whatsapp_twilio.ACCOUNT_SID,
        "twilio_auth_token": whatsapp_twilio.AUTH_TOKEN,
        "twilio_api_base_url": fakes.twilio.base,
        "public_base_url": PUBLIC,
        "meta_app_secret": whatsapp_meta.APP_SECRET,
        "meta_verify_token": whatsapp_meta.VERIFY_TOKEN,
        "meta_graph_base_url": fakes.meta.graph_base,
        "openai_api_key": openai_chat.API_KEY,
        "openai_base_url": fakes.ai.base_url,
        "openai_chat_model": "gpt-test-mini",
        "data_encryption_key": DATA_KEY,
        "whatsapp_reply_debounce_seconds": 0.0,  # no pacing here: the real-server test has it
        "whatsapp_reply_burst_quiet_seconds": 0.0,
    }
    for name, value in values.items():
        monkeypatch.setattr(settings, name, value)
    for server in (fakes.twilio, fakes.meta, fakes.ai):
        server.reset()
    fakes.meta.tokens = {PNID_A: TOKEN_A, PNID_B: TOKEN_B}
    huey.flush()  # nothing scheduled by an earlier test
    with app.app_context():
        for business_id, number, pnid, token in (
            (world.business_a, NUMBER_A, PNID_A, TOKEN_A),
            (world.business_b, NUMBER_B, PNID_B, TOKEN_B),
        ):
            admin_service.update_business(
                None,  # type: ignore[arg-type]
                business_id,
                BusinessPatchIn(
                    whatsapp_numbers=[number], meta_phone_number_id=pnid, meta_access_token=token
                ),
            )
        business_service.save_prompt(
            None, TenantId(world.business_a), "calls A", "את הנציגה של מספרה א. ענו קצר."
        )
        business_service.save_prompt(
            None, TenantId(world.business_b), "calls B", "You are garage B's assistant."
        )
    # No app context held across the test: Flask would reuse it (and its `g`) for every request.
    yield WA(app, world, fakes)
    huey.flush()
