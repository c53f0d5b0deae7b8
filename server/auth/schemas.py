from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Input models refuse unknown keys, naming them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class LoginIn(Strict):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class CsrfOut(BaseModel):
    csrfToken: str  # noqa: N815 - the owner's wire name


class UserRef(BaseModel):
    """Who did something (saved a prompt, moved a lead), as lists show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str


class OkOut(BaseModel):
    ok: bool = True


class UserOut(BaseModel):
    id: int
    email: str
    full_name: str
    role: str
    business_id: int | None
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime


class BusinessBrief(BaseModel):
    id: int
    name: str
    is_active: bool


class ImpersonationOut(BaseModel):
    id: int
    business: BusinessBrief
    reason: str
    started_at: datetime
    expires_at: datetime


class MeOut(BaseModel):
    user: UserOut
    role: str
    tenant_id: int | None
    tenant: BusinessBrief | None
    impersonating: bool
    impersonation: ImpersonationOut | None
