from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator

from server.auth.schemas import Strict, UserRef

SourceName = Literal["manual", "call", "whatsapp", "import", "api"]
SortName = Literal["-created_at", "created_at", "-updated_at", "updated_at"]


def _clean_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    cleaned: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > 50:
            raise ValueError("a tag is at most 50 characters")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


class LeadCreateIn(Strict):
    full_name: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: EmailStr | None = None
    source: SourceName = "manual"
    status: str | None = Field(default=None, max_length=40)
    notes: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    assignee_id: int | None = None

    _tags = field_validator("tags")(_clean_tags)


class LeadPatchIn(Strict):
    full_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: EmailStr | None = None
    status: str | None = Field(default=None, max_length=40)
    notes: str | None = Field(default=None, max_length=10_000)
    tags: list[str] | None = Field(default=None, max_length=20)
    assignee_id: int | None = None

    _tags = field_validator("tags")(_clean_tags)


class LeadQuery(Strict):
    status: list[str] | None = None
    source: list[SourceName] | None = None
    tag: str | None = Field(default=None, max_length=50)
    assignee_id: int | None = None
    unassigned: bool | None = None
    created_from: AwareDatetime | None = None  # ISO 8601 with a zone: 2026-01-01T00:00:00+02:00
    created_to: AwareDatetime | None = None
    q: str | None = Field(default=None, max_length=200)
    sort: SortName = "-created_at"
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    business_id: int | None = None


class FieldWarning(BaseModel):
    field: str
    message: str


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    business_id: int
    full_name: str
    phone: str | None
    phone_valid: bool
    email: str | None
    source: str
    status: str
    notes: str
    tags: list[str] = Field(validation_alias=AliasChoices("tag_names", "tags"))
    assignee_id: int | None
    last_inbound_at: datetime | None
    status_changed_at: datetime | None
    status_changed_by_id: int | None
    created_at: datetime
    updated_at: datetime


class LeadWriteOut(LeadOut):
    warnings: list[FieldWarning] = Field(default_factory=list)


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None


class LeadEventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    actor: UserRef | None
    text: str | None
    data: dict[str, Any]


class LeadDetailOut(LeadOut):
    timeline: list[LeadEventOut]


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=10_000)


class BulkStatusIn(Strict):
    ids: list[int] = Field(min_length=1, max_length=1000)
    status: str = Field(min_length=1, max_length=40)


class BulkResult(BaseModel):
    updated: int


class StatusOut(BaseModel):
    key: str
    label: str
    position: int
    kind: Literal["open", "won", "lost"]


class StatusIn(Strict):
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1, max_length=80)
    kind: Literal["open", "won", "lost"] = "open"


class PipelineIn(Strict):
    statuses: list[StatusIn] = Field(min_length=1, max_length=20)


class PipelineOut(BaseModel):
    statuses: list[StatusOut]


class ImportQuery(Strict):
    dry_run: bool = False


class ImportRowError(BaseModel):
    row: int
    field: str
    message: str


class ImportReport(BaseModel):
    """rows = created + merged + folded + skipped."""

    dry_run: bool
    rows: int
    created: int
    merged: int  # into a lead that already existed (same phone, or same email for rows without one)
    folded: int  # repeated an earlier row of the file (same phone or email): one lead, both rows' data
    skipped: int
    errors: list[ImportRowError]
    warnings: list[ImportRowError]
