"""Alembic, driven from code (the CLI, make run and the tests all migrate the same way)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from server.settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revisions() -> set[str]:
    """Normally one head; several only while branches are being merged."""
    return set(ScriptDirectory.from_config(alembic_config("")).get_heads())


def upgrade_to_head(database_url: str) -> str:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "heads")
    return ", ".join(sorted(head_revisions()))
