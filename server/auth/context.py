"""The request context the guard computes once per request; services take its pieces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NewType

from flask import g

from server.auth.models import PLATFORM_ROLES, Role

# A business id that the guard has authorised for this request. Services ask for a TenantId,
# not an int, so that passing an unchecked id from the URL is a type error.
TenantId = NewType("TenantId", int)


@dataclass
class RequestContext:
    user_id: int
    email: str
    role: Role
    session_id: str
    own_tenant_id: int | None
    tenant_id: TenantId | None
    impersonating: bool
    impersonation_id: int | None
    impersonation_expires_at: datetime | None
    ip: str | None
    request_id: str
    # Set once a service wrote an audit row for this request, so the safety net does not repeat it.
    audited: bool = False

    @property
    def is_platform(self) -> bool:
        return self.role in PLATFORM_ROLES

    @property
    def tenant(self) -> TenantId:
        """The tenant this request acts for; the guard guarantees it on tenant routes."""
        if self.tenant_id is None:
            raise RuntimeError("tenant requested on a route the guard did not scope to a tenant")
        return self.tenant_id


def current_context() -> RequestContext:
    ctx: RequestContext | None = g.get("ctx")
    if ctx is None:
        raise RuntimeError("current_context() on a route without the guard")
    return ctx
