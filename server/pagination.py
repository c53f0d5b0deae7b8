"""Keyset cursors: an opaque token naming the (timestamp, id) of the last row a page showed."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from server.errors import ValidationFailed

Row = TypeVar("Row")


def encode_cursor(at: datetime, row_id: int, scope: str = "") -> str:
    """`scope` ties the cursor to one ordering (a cursor of `-created_at` is refused by `updated_at`)."""
    raw = json.dumps([scope, at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str = "") -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_scope, at, row_id = json.loads(raw)
        if cursor_scope != scope:
            raise ValueError("a cursor of another ordering")
        value = datetime.fromisoformat(at)
        if value.tzinfo is None:
            raise ValueError("a cursor without a time zone")
        return value, int(row_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            [
                {
                    "field": "cursor",
                    "message": "not a cursor of this listing (restart from the first page)",
                    "type": "value",
                }
            ]
        ) from exc


def page(
    rows: Sequence[Row], limit: int, key: Callable[[Row], tuple[datetime, int]], scope: str = ""
) -> tuple[list[Row], str | None]:
    """`rows` fetched with LIMIT limit + 1: the page, and the cursor of the next one (None at the end)."""
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), encode_cursor(*key(rows[limit - 1]), scope=scope)
