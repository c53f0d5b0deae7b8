"""The migrations build exactly the schema the models describe (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

import server.models  # noqa: F401 - every table on Base.metadata
from server.db import Base, get_engine

# Made by a migration with raw SQL on PostgreSQL only (a trigram GIN index has no portable model form).
MIGRATION_ONLY = {"ix_leads_search_trgm"}


def _compared(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY)


def test_the_migrated_database_matches_the_models(app: Flask) -> None:
    with get_engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _compared})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], "a model changed without a migration (or the reverse):\n" + "\n".join(map(str, diff))
