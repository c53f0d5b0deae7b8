"""require_api_auth: authorization for every /api request (never CSRF; SeaSurf does that)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request, session

from server.admin import impersonation
from server.auth import service
from server.auth.context import RequestContext, TenantId
from server.auth.models import PLATFORM_ROLES, Role
from server.errors import error_response

F = TypeVar("F", bound=Callable[..., Any])


class Access(StrEnum):
    public = "public"  # no session needed (login, logout, csrf, the API description)
    user = "user"  # any logged-in user (me)
    platform = "platform"  # admin or manager: /api/admin/**
    tenant = "tenant"  # a business user, or admin/manager impersonating: business routes
    # Tenant routes that an admin/manager who is NOT impersonating may read across all tenants
    # (the owner's rule for leads); the view then gets ctx.tenant_id = None.
    tenant_or_platform = "tenant_or_platform"


def access(level: Access) -> Callable[[F], F]:
    """Declare a view's access level (default: by path, see _default_access)."""

    def mark(view: F) -> F:
        view.access_level = level  # type: ignore[attr-defined]
        return view

    return mark


def _default_access(path: str) -> Access:
    if path.startswith("/api/admin/"):
        return Access.platform
    return Access.tenant


def _forbidden(reason: str, message: str) -> Response:
    return error_response(403, "forbidden", reason, message)


def require_api_auth() -> Response | None:
    """Runs before every /api/ view; returns a refusal or sets g.ctx and lets the view run."""
    if not request.path.startswith("/api/"):
        return None
    if request.method == "OPTIONS":
        return _preflight()
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None  # no such route: the 404/405 handler answers
    level = getattr(view, "access_level", None) or _default_access(request.path)

    ctx, why_not = _load_context()
    if ctx is None:
        if level is Access.public:
            return None
        return error_response(401, "unauthorized", "no_session", why_not)
    g.ctx = ctx

    if level in (Access.public, Access.user):
        return None
    if level is Access.platform:
        if not ctx.is_platform:
            return _forbidden(
                "role_mismatch", f"This route is for platform staff (admin or manager); you are '{ctx.role}'."
            )
        return None
    # tenant routes
    if ctx.role is Role.business:
        return None
    if ctx.impersonating:
        return None
    if level is Access.tenant_or_platform and request.method in ("GET", "HEAD"):
        return None
    expired = g.pop("impersonation_expired_business", None)
    if expired is not None:
        return _forbidden(
            "no_tenant",
            f"Your impersonation of business {expired} expired; start it again to act for a business.",
        )
    return _forbidden(
        "no_tenant",
        "This is a business route: impersonate a business first "
        "(POST /api/admin/businesses/<id>/impersonate).",
    )


def _preflight() -> Response:
    """OPTIONS answers 204 at once: a preflight never meets CSRF or the guard."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    response = Response(status=204)
    try:
        methods = adapter.allowed_methods()
    except Exception:  # noqa: BLE001 - an unknown path still gets a clean 204
        methods = []
    if methods:
        response.headers["Allow"] = ", ".join(sorted(set(methods) | {"OPTIONS"}))
    return response


def _load_context() -> tuple[RequestContext | None, str]:
    session_id = session.get("sid")
    user_data = session.get("user")
    if not session_id or not isinstance(user_data, dict):
        return None, "Log in first (POST /api/auth/login)."
    record = service.live_session(session_id)
    if record is None or record.user_id != user_data.get("id") or record.role != user_data.get("role"):
        session.clear()
        return None, "Your session has ended (logged out, expired or revoked); log in again."

    role = Role(user_data["role"])
    own_tenant = user_data.get("tenant_id")
    tenant_id = session.get("impersonated_tenant_id") or own_tenant
    impersonating = bool(session.get("impersonating"))
    active = None
    if impersonating:
        active = impersonation.active_for_session(session_id)
        if active is None or role not in PLATFORM_ROLES:
            g.impersonation_expired_business = session.get("impersonated_tenant_id")
            impersonation.expire_for_session(session_id, request.remote_addr, g.get("request_id", "-"))
            session.pop("impersonating", None)
            session.pop("impersonated_tenant_id", None)
            impersonating, tenant_id = False, own_tenant
        elif active.business_id != tenant_id:
            # The flags and the record disagree (a stale cookie): trust the record.
            session["impersonated_tenant_id"] = tenant_id = active.business_id

    return (
        RequestContext(
            user_id=record.user_id,
            email=record.email,
            role=role,
            session_id=session_id,
            own_tenant_id=own_tenant,
            tenant_id=TenantId(tenant_id) if tenant_id is not None else None,
            impersonating=impersonating,
            impersonation_id=active.id if active else None,
            impersonation_expires_at=active.expires_at if active else None,
            ip=request.remote_addr,
            request_id=g.get("request_id", "-"),
        ),
        "",
    )


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def audit_impersonated_writes(response: Response) -> Response:
    """Safety net: a successful write made while impersonating that no service audited."""
    ctx: RequestContext | None = g.get("ctx")
    if (
        ctx is None
        or not ctx.impersonating
        or ctx.audited
        or request.method not in WRITE_METHODS
        or response.status_code >= 400
    ):
        return response
    from server.admin import audit
    from server.db import db_session

    audit.record(
        ctx,
        "api.write",
        target_type="route",
        target_id=request.endpoint,
        details={"method": request.method, "path": request.path, "status": response.status_code},
    )
    db_session.commit()
    return response


def install(app: Flask) -> None:
    app.before_request(require_api_auth)
    app.after_request(audit_impersonated_writes)
