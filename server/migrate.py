"""Alembic, driven from code (the CLI, make run and the tests all migrate the same way)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from server.db import get_engine
from server.settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revisions() -> set[str]:
    """Normally one head; several only while branches are being merged."""
    return set(ScriptDirectory.from_config(alembic_config("")).get_heads())


def database_revisions() -> frozenset[str]:
    """The revisions the database is at (empty when it was never migrated); raises if it does not answer."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
        if not inspect(connection).has_table("alembic_version"):
            return frozenset()
        return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config("")).walk_revisions()}


def upgrade_to_head(database_url: str) -> str:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "heads")
    return ", ".join(sorted(head_revisions()))
