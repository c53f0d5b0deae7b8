"""The call log's routes in the guard matrix: business routes; another tenant's call is 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.calls import service
from server.calls.models import Call
from server.db import db_session
from tests.conftest import World
from tests.test_guard_matrix import Route

ROUTES: list[Route] = [
    Route("GET", "/api/calls"),
    Route("GET", "/api/calls/{call_a}", expect={"business_b": (404, "call_not_found")}),
]

CALL_SID_A = "CA" + "a" * 32


def fixtures(world: World) -> dict[str, Any]:
    with world.app.app_context():
        form = {"CallSid": CALL_SID_A, "From": "+972501234567", "To": "+97235550101", "CallStatus": "ringing"}
        assert service.register_incoming(form).business_id == world.business_a
        call = db_session.scalar(select(Call).where(Call.call_sid == CALL_SID_A))
        assert call is not None
        return {"call_a": call.id}
