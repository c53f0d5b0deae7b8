from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, EmailStr, Field, StringConstraints

from server.auth.schemas import Strict, UserOut

RoleName = Literal["admin", "manager", "business"]


class Page(Strict):
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=25, ge=1, le=200)


class BusinessQuery(Page):
    q: str | None = Field(default=None, max_length=200)
    active: bool | None = None


def _known_zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not a time zone of the IANA database (e.g. Asia/Jerusalem)") from exc
    return value


# A name is stripped; one of only spaces is refused as too short.
BusinessName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]


class BusinessCreateIn(Strict):
    name: BusinessName
    timezone: TimeZoneName = "Asia/Jerusalem"
    voice_numbers: list[str] = Field(default_factory=list, max_length=50)
    whatsapp_numbers: list[str] = Field(default_factory=list, max_length=50)
    meta_phone_number_id: str | None = Field(default=None, max_length=64)
    # WhatsApp: write-only (stored encrypted; reads say only meta_access_token_set).
    meta_access_token: str | None = Field(default=None, max_length=4096)
    twilio_messaging_service_sid: str | None = Field(default=None, max_length=64)


class BusinessPatchIn(Strict):
    name: BusinessName | None = None
    timezone: TimeZoneName | None = None
    is_active: bool | None = None
    voice_numbers: list[str] | None = Field(default=None, max_length=50)
    whatsapp_numbers: list[str] | None = Field(default=None, max_length=50)
    meta_phone_number_id: str | None = Field(default=None, max_length=64)
    # WhatsApp: write-only (stored encrypted; "" or null clears it).
    meta_access_token: str | None = Field(default=None, max_length=4096)
    twilio_messaging_service_sid: str | None = Field(default=None, max_length=64)


class BusinessOut(BaseModel):
    id: int
    name: str
    timezone: str
    is_active: bool
    voice_numbers: list[str]
    whatsapp_numbers: list[str]
    meta_phone_number_id: str | None
    meta_access_token_set: bool = False  # WhatsApp: the token itself is never returned
    twilio_messaging_service_sid: str | None = None
    created_at: datetime
    updated_at: datetime


class BusinessList(BaseModel):
    items: list[BusinessOut]
    total: int
    page: int
    page_size: int


class UserQuery(Page):
    q: str | None = Field(default=None, max_length=200)
    role: RoleName | None = None
    business_id: int | None = None
    active: bool | None = None


class UserCreateIn(Strict):
    email: EmailStr
    full_name: str = Field(default="", max_length=200)
    role: RoleName
    business_id: int | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)


class UserPatchIn(Strict):
    email: EmailStr | None = None
    full_name: str | None = Field(default=None, max_length=200)
    role: RoleName | None = None
    business_id: int | None = None
    is_active: bool | None = None


class PasswordResetIn(Strict):
    password: str | None = Field(default=None, min_length=10, max_length=256)


class UserCreatedOut(UserOut):
    # Only when the server generated the password: shown once, never stored in clear.
    generated_password: str | None = None


class UserList(BaseModel):
    items: list[UserOut]
    total: int
    page: int
    page_size: int


class ImpersonateIn(Strict):
    reason: str = Field(default="", max_length=500)


class ImpersonateOut(BaseModel):
    ok: bool
    impersonating: bool
    tenant_id: int
    business: BusinessOut
    reason: str
    started_at: datetime
    expires_at: datetime


class ImpersonateExitOut(BaseModel):
    ok: bool
    impersonating: bool
    ended_tenant_id: int | None


class AuditQuery(Strict):
    actor_id: int | None = None
    business_id: int | None = None
    action: str | None = Field(default=None, max_length=64)
    impersonation_id: int | None = None
    since: AwareDatetime | None = None  # ISO 8601 with a zone: 2026-01-01T00:00:00+02:00
    until: AwareDatetime | None = None
    before_id: int | None = None
    limit: int = Field(default=50, ge=1, le=500)


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_email: str | None
    actor_role: str | None
    impersonation_id: int | None
    business_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    request_id: str | None
    details: dict[str, Any]


class AuditList(BaseModel):
    items: list[AuditOut]
    next_before_id: int | None
