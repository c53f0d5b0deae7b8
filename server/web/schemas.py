from __future__ import annotations

from pydantic import BaseModel


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    schema_revision: str | None


class VersionOut(BaseModel):
    version: str
    commit: str
    built_at: str | None
