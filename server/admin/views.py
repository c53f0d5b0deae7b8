"""/api/admin/**: businesses, users, impersonation, audit (admin and manager only)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, session

from server.admin import audit, impersonation, service
from server.admin.schemas import (
    AuditList,
    AuditOut,
    AuditQuery,
    BusinessCreateIn,
    BusinessList,
    BusinessOut,
    BusinessPatchIn,
    BusinessQuery,
    ImpersonateExitOut,
    ImpersonateIn,
    ImpersonateOut,
    PasswordResetIn,
    UserCreatedOut,
    UserCreateIn,
    UserList,
    UserPatchIn,
    UserQuery,
)
from server.auth.context import current_context
from server.auth.schemas import UserOut
from server.auth.views import user_out
from server.business.models import Business, NumberKind
from server.validation import body_of, endpoint, query_of

bp = Blueprint("admin", __name__, url_prefix="/api/admin")
TAGS = ("admin",)


def business_out(business: Business) -> BusinessOut:
    return BusinessOut(
        id=business.id,
        name=business.name,
        timezone=business.timezone,
        is_active=business.is_active,
        voice_numbers=business.numbers_of(NumberKind.voice),
        whatsapp_numbers=business.numbers_of(NumberKind.whatsapp),
        meta_phone_number_id=business.meta_phone_number_id,
        meta_access_token_set=business.meta_access_token_encrypted is not None,  # WhatsApp
        twilio_messaging_service_sid=business.twilio_messaging_service_sid,
        created_at=business.created_at,
        updated_at=business.updated_at,
    )


# ---------------------------------------------------------------- businesses


@bp.get("/businesses")
@endpoint(query=BusinessQuery, resp=BusinessList, tags=TAGS)
def list_businesses() -> BusinessList:
    query: BusinessQuery = query_of(BusinessQuery)
    rows, total = service.list_businesses(query)
    return BusinessList(
        items=[business_out(b) for b in rows], total=total, page=query.page, page_size=query.page_size
    )


@bp.post("/businesses")
@endpoint(json=BusinessCreateIn, resp=BusinessOut, status=201, tags=TAGS)
def create_business() -> tuple[BusinessOut, int]:
    business = service.create_business(current_context(), body_of(BusinessCreateIn))
    return business_out(business), 201


@bp.get("/businesses/<int:business_id>")
@endpoint(resp=BusinessOut, tags=TAGS)
def get_business(business_id: int) -> BusinessOut:
    return business_out(service.get_business(business_id))


@bp.patch("/businesses/<int:business_id>")
@endpoint(json=BusinessPatchIn, resp=BusinessOut, tags=TAGS)
def update_business(business_id: int) -> BusinessOut:
    return business_out(service.update_business(current_context(), business_id, body_of(BusinessPatchIn)))


@bp.delete("/businesses/<int:business_id>")
@endpoint(resp=BusinessOut, tags=TAGS)
def deactivate_business(business_id: int) -> BusinessOut:
    return business_out(service.deactivate_business(current_context(), business_id))


# ---------------------------------------------------------------- impersonation


@bp.post("/businesses/<int:business_id>/impersonate")
@endpoint(json=ImpersonateIn, resp=ImpersonateOut, tags=TAGS)
def impersonate(business_id: int) -> ImpersonateOut:
    ctx = current_context()
    data: ImpersonateIn = body_of(ImpersonateIn)
    ttl = timedelta(minutes=current_app.extensions["settings"].impersonation_ttl_minutes)
    record, business = impersonation.start(ctx, business_id, data.reason.strip(), ttl)
    # Exactly the two flags; session['user'] and its role never change.
    session["impersonating"] = True
    session["impersonated_tenant_id"] = business.id
    return ImpersonateOut(
        ok=True,
        impersonating=True,
        tenant_id=business.id,
        business=business_out(business),
        reason=record.reason,
        started_at=record.started_at,
        expires_at=record.expires_at,
    )


@bp.post("/impersonate/exit")
@endpoint(resp=ImpersonateExitOut, tags=TAGS)
def exit_impersonation() -> ImpersonateExitOut:
    record = impersonation.exit_(current_context())
    session.pop("impersonating", None)
    session.pop("impersonated_tenant_id", None)
    return ImpersonateExitOut(
        ok=True, impersonating=False, ended_tenant_id=record.business_id if record else None
    )


# ---------------------------------------------------------------- users


@bp.get("/users")
@endpoint(query=UserQuery, resp=UserList, tags=TAGS)
def list_users() -> UserList:
    query: UserQuery = query_of(UserQuery)
    rows, total = service.list_users(query)
    return UserList(
        items=[user_out(u) for u in rows], total=total, page=query.page, page_size=query.page_size
    )


@bp.post("/users")
@endpoint(json=UserCreateIn, resp=UserCreatedOut, status=201, tags=TAGS)
def create_user() -> tuple[UserCreatedOut, int]:
    created = service.create_user(current_context(), body_of(UserCreateIn))
    out = UserCreatedOut(**user_out(created.user).model_dump(), generated_password=created.generated_password)
    return out, 201


@bp.get("/users/<int:user_id>")
@endpoint(resp=UserOut, tags=TAGS)
def get_user(user_id: int) -> UserOut:
    return user_out(service.get_user(user_id))


@bp.patch("/users/<int:user_id>")
@endpoint(json=UserPatchIn, resp=UserOut, tags=TAGS)
def update_user(user_id: int) -> UserOut:
    return user_out(service.update_user(current_context(), user_id, body_of(UserPatchIn)))


@bp.delete("/users/<int:user_id>")
@endpoint(resp=UserOut, tags=TAGS)
def deactivate_user(user_id: int) -> UserOut:
    return user_out(service.deactivate_user(current_context(), user_id))


@bp.post("/users/<int:user_id>/reset-password")
@endpoint(json=PasswordResetIn, resp=UserCreatedOut, tags=TAGS)
def reset_password(user_id: int) -> UserCreatedOut:
    data: PasswordResetIn = body_of(PasswordResetIn)
    generated = service.reset_password(current_context(), user_id, data.password)
    return UserCreatedOut(**user_out(service.get_user(user_id)).model_dump(), generated_password=generated)


# ---------------------------------------------------------------- audit


@bp.get("/audit")
@endpoint(query=AuditQuery, resp=AuditList, tags=TAGS)
def list_audit() -> AuditList:
    query: AuditQuery = query_of(AuditQuery)
    rows = audit.search(**query.model_dump())
    items = [AuditOut.model_validate(row, from_attributes=True) for row in rows]
    return AuditList(items=items, next_before_id=items[-1].id if len(items) == query.limit else None)
