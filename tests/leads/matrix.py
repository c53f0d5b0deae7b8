"""The leads routes in the guard matrix. Staff read every tenant's leads (the owner's rule)."""

from __future__ import annotations

from typing import Any

from tests.conftest import World
from tests.test_guard_matrix import Route

NOT_FOUND = (404, "lead_not_found")
# Business B may not read business A's lead: 404, its existence does not leak.
A_ONLY = {"business_b": NOT_FOUND}

ROUTES = [
    Route("GET", "/api/leads", kind="business_or_platform_read"),
    Route("POST", "/api/leads", {"full_name": "דנה", "phone": "052-555-{n}"}),
    Route("GET", "/api/leads/{lead_a}", kind="business_or_platform_read", expect=A_ONLY),
    Route("PATCH", "/api/leads/{lead_a}", {"status": "contacted"}, expect=A_ONLY),
    Route("DELETE", "/api/leads/{lead_a}", expect=A_ONLY),
    Route("POST", "/api/leads/{lead_a}/notes", {"text": "התקשרה שוב"}, expect=A_ONLY),
    Route("POST", "/api/leads/bulk-status", {"ids": ["{lead_a}"], "status": "won"}),
    Route("GET", "/api/leads/statuses"),
    Route(
        "PUT",
        "/api/leads/statuses",
        {
            "statuses": [
                {"key": "new", "label": "חדש"},
                {"key": "contacted", "label": "דיברנו"},
                {"key": "qualified", "label": "מתאים"},
                {"key": "won", "label": "נסגר", "kind": "won"},
                {"key": "lost", "label": "אבוד", "kind": "lost"},
            ]
        },
    ),
    Route("GET", "/api/leads/export.csv", kind="business_or_platform_read"),
    Route("POST", "/api/leads/import?dry_run=true", b"phone\n050-234-5678\n"),
]


def fixtures(world: World) -> dict[str, Any]:
    api = world.as_("business_a")
    lead = api.post("/api/leads", {"full_name": "ליד של א", "phone": "050-111-2233"})
    assert lead.status_code == 201, lead.json
    return {"lead_a": lead.json["id"], "n": "0000"}
