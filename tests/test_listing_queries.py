"""Every listing's date filters and cursors: bad values are a 422 naming the field, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import World

# (who, listing, its date filter)
DATE_FILTERS = [
    ("admin", "/api/admin/audit", "since"),
    ("admin", "/api/admin/audit", "until"),
    ("business_a", "/api/leads", "created_from"),
    ("business_a", "/api/leads", "created_to"),
    ("business_a", "/api/calls", "started_from"),
    ("business_a", "/api/calls", "started_to"),
]

CURSOR_LISTINGS = ["/api/leads", "/api/calls", "/api/conversations", "/api/reminders", "/api/notifications"]


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("who", "url", "field"), DATE_FILTERS)
@pytest.mark.parametrize("value", ["2026-01-01", "2026-01-01T00:00:00", "yesterday"])
def test_a_date_filter_without_a_zone_is_named(
    world: World, who: str, url: str, field: str, value: str
) -> None:
    response = world.as_(who).get(url, query_string={field: value})
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["reason"] == "invalid_fields"
    assert [f["field"] for f in body["fields"]] == [field]


@pytest.mark.parametrize(("who", "url", "field"), DATE_FILTERS)
def test_a_date_filter_with_a_zone_is_taken(world: World, who: str, url: str, field: str) -> None:
    response = world.as_(who).get(url, query_string={field: "2026-01-01T00:00:00+02:00"})
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("url", CURSOR_LISTINGS)
@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        _cursor("", "2026-01-01T00:00:00", 5),  # a crafted cursor without a zone
        _cursor("", "2026-01-01T00:00:00+00:00"),  # a part missing
        _cursor("-updated_at", "2026-01-01T00:00:00+00:00", 5),  # another ordering's cursor
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
    ],
)
def test_a_bad_cursor_is_named(world: World, url: str, cursor: str) -> None:
    response = world.as_("business_a").get(url, query_string={"cursor": cursor})
    assert response.status_code == 422, response.get_json()
    assert [f["field"] for f in response.get_json()["fields"]] == ["cursor"]


@pytest.mark.parametrize("url", CURSOR_LISTINGS)
def test_an_empty_listing_has_no_next_cursor(world: World, url: str) -> None:
    response = world.as_("business_b").get(url)
    assert response.status_code == 200
    assert response.get_json()["next_cursor"] is None
