"""The WhatsApp inbox's rows of the guard matrix (tests/test_guard_matrix.py)."""

from __future__ import annotations

from typing import Any

from server.business.models import Business
from server.db import db_session
from server.whatsapp import service
from server.whatsapp.intake import InboundMessage
from server.whatsapp.models import Conversation, Message, Provider
from tests.conftest import World
from tests.test_guard_matrix import Route

CONVERSATION = {"business_b": (404, "conversation_not_found")}
HX = "HX" + "0" * 32

ROUTES: list[Route] = [
    Route("GET", "/api/conversations"),
    Route("GET", "/api/conversations/{conversation}", expect=CONVERSATION),
    Route("POST", "/api/conversations/{conversation}/messages", {"text": "שלום"}, expect=CONVERSATION),
    Route(
        "POST",
        "/api/conversations/{conversation}/template",
        {"name": HX, "language": "he", "params": ["דנה"]},
        expect=CONVERSATION,
    ),
    Route("POST", "/api/conversations/{conversation}/pause", expect=CONVERSATION),
    Route("POST", "/api/conversations/{conversation}/resume", expect=CONVERSATION),
    Route("POST", "/api/conversations/{conversation}/read", expect=CONVERSATION),
    Route("POST", "/api/conversations/{conversation}/messages/{failed_message}/retry", expect=CONVERSATION),
    Route(
        "POST",
        "/api/leads/{wa_lead}/whatsapp",
        {"text": "שלום"},
        expect={"business_b": (404, "lead_not_found")},
    ),
]


def fixtures(world: World) -> dict[str, Any]:
    """A WhatsApp conversation of business A (inside the 24-hour window, nothing left to answer) with
    a failed message to retry."""
    business = db_session.get(Business, world.business_a)
    assert business is not None
    inbound = InboundMessage(
        provider=Provider.twilio,
        provider_message_id="SM" + "7" * 32,
        business_address="+97235550111",
        customer_phone="+972501234567",
        customer_user_id=None,
        customer_name="דנה",
        kind="text",
        text="שלום",
    )
    ingested = service.ingest_message(business, inbound)
    conversation = db_session.get(Conversation, ingested.conversation_id)
    assert conversation is not None and conversation.lead_id is not None
    conversation.answered_through_id = ingested.message_id or 0
    conversation.reply_armed_at = None
    failed = Message(
        business_id=business.id,
        conversation_id=conversation.id,
        direction="out",
        author="user",
        provider="twilio",
        kind="text",
        text="לא נשלחה",
        status="failed",
        error_code="30008",
    )
    db_session.add(failed)
    db_session.commit()
    return {"conversation": conversation.id, "wa_lead": conversation.lead_id, "failed_message": failed.id}
