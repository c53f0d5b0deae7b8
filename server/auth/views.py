"""POST /api/auth/login, POST /api/auth/logout, GET /api/auth/csrf, GET /api/auth/me."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, current_app, g, request, session

from server.admin.models import Impersonation
from server.auth import service
from server.auth.context import current_context
from server.auth.guard import Access, access
from server.auth.models import User
from server.auth.schemas import (
    BusinessBrief,
    CsrfOut,
    ImpersonationOut,
    LoginIn,
    MeOut,
    OkOut,
    UserOut,
)
from server.business.models import Business
from server.extensions import limiter, login_email_key
from server.validation import body_of, endpoint

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


def _settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["settings"]


@bp.post("/login")
@access(Access.public)
@limiter.limit(lambda: _settings().login_rate_limit_ip)
@limiter.limit(
    lambda: _settings().login_rate_limit_email,
    key_func=login_email_key,
    deduct_when=lambda response: response.status_code == 401,
)
@endpoint(json=LoginIn, resp=MeOut, tags=("auth",))
def login() -> MeOut:
    credentials: LoginIn = body_of(LoginIn)
    record = service.authenticate(
        credentials.email,
        credentials.password,
        timedelta(hours=_settings().session_lifetime_hours),
        service.ClientInfo(
            ip=request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
            request_id=g.get("request_id", "-"),
        ),
        replaces=session.get("sid"),
    )
    user = record.user
    # A new session at login: nothing from before (a planted CSRF token, flags) carries over.
    session.clear()
    session.permanent = True
    session["sid"] = record.id
    session["user"] = {"id": user.id, "email": user.email, "role": user.role, "tenant_id": user.business_id}
    return _me(*service.identity(user.id, user.business_id, None))


@bp.post("/logout")
@access(Access.public)
@endpoint(resp=OkOut, tags=("auth",))
def logout() -> OkOut:
    session_id = session.get("sid")
    if session_id:
        service.log_out(session_id)
    session.clear()
    return OkOut()


@bp.get("/csrf")
@access(Access.public)
@endpoint(resp=CsrfOut, tags=("auth",))
def csrf_token() -> CsrfOut:
    # SeaSurf's token accessor (its Jinja global); calling it also makes SeaSurf set XSRF-TOKEN.
    get_token: Callable[[], str] = current_app.jinja_env.globals["csrf_token"]  # type: ignore[assignment]
    return CsrfOut(csrfToken=get_token())


@bp.get("/me")
@access(Access.user)
@endpoint(resp=MeOut, tags=("auth",))
def me() -> MeOut:
    ctx = current_context()
    return _me(*service.identity(ctx.user_id, ctx.tenant_id, ctx.impersonation_id))


def _brief(business: Business) -> BusinessBrief:
    return BusinessBrief(id=business.id, name=business.name, is_active=business.is_active)


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def _me(user: User, tenant: Business | None, impersonation: Impersonation | None) -> MeOut:
    return MeOut(
        user=user_out(user),
        role=user.role,
        tenant_id=tenant.id if tenant else None,
        tenant=_brief(tenant) if tenant else None,
        impersonating=impersonation is not None,
        impersonation=ImpersonationOut(
            id=impersonation.id,
            business=_brief(tenant),
            reason=impersonation.reason,
            started_at=impersonation.started_at,
            expires_at=impersonation.expires_at,
        )
        if impersonation is not None and tenant is not None
        else None,
    )
