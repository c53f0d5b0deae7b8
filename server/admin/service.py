"""Platform administration: businesses and users. Callers pass the actor's RequestContext."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from server import crypto
from server.admin import audit, impersonation
from server.admin.schemas import (
    BusinessCreateIn,
    BusinessPatchIn,
    BusinessQuery,
    UserCreateIn,
    UserPatchIn,
    UserQuery,
)
from server.auth import service as auth_service
from server.auth.context import RequestContext
from server.auth.models import PLATFORM_ROLES, Role, User
from server.auth.passwords import generate_password, hash_password
from server.business.models import Business, BusinessNumber, NumberKind
from server.db import db_session
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.phones import InvalidPhone, normalise_phone

# ---------------------------------------------------------------- businesses


def list_businesses(query: BusinessQuery) -> tuple[list[Business], int]:
    stmt = select(Business)
    if query.q:
        pattern = f"%{query.q.strip()}%"
        owning = select(BusinessNumber.business_id).where(BusinessNumber.number.like(pattern))
        stmt = stmt.where(or_(Business.name.ilike(pattern), Business.id.in_(owning)))
    if query.active is not None:
        stmt = stmt.where(Business.is_active.is_(query.active))
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db_session.scalars(
        stmt.order_by(Business.name, Business.id)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    return list(rows), total


def get_business(business_id: int) -> Business:
    business = db_session.get(Business, business_id)
    if business is None:
        raise NotFound("business", business_id)
    return business


def create_business(ctx: RequestContext, data: BusinessCreateIn) -> Business:
    business = Business(
        name=data.name.strip(),
        timezone=data.timezone,
        meta_phone_number_id=data.meta_phone_number_id or None,
        twilio_messaging_service_sid=data.twilio_messaging_service_sid or None,
    )
    if data.meta_access_token:  # WhatsApp: encrypted at rest
        business.meta_access_token_encrypted = crypto.encrypt(data.meta_access_token)
    db_session.add(business)
    _set_numbers(business, NumberKind.voice, data.voice_numbers, "voice_numbers")
    _set_numbers(business, NumberKind.whatsapp, data.whatsapp_numbers, "whatsapp_numbers")
    _flush_or_conflict()
    audit.record(
        ctx,
        "business.create",
        business_id=business.id,
        target_type="business",
        target_id=business.id,
        details={"name": business.name},
    )
    db_session.commit()
    return business


def update_business(ctx: RequestContext, business_id: int, data: BusinessPatchIn) -> Business:
    business = get_business(business_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        business.name = data.name.strip() if data.name else business.name
    if data.timezone is not None:
        business.timezone = data.timezone
    if "meta_phone_number_id" in changes:
        business.meta_phone_number_id = data.meta_phone_number_id or None
    # WhatsApp: the token is encrypted at rest and never read back; "" or null clears it.
    if "meta_access_token" in changes:
        token = data.meta_access_token
        business.meta_access_token_encrypted = crypto.encrypt(token) if token else None
    if "twilio_messaging_service_sid" in changes:
        business.twilio_messaging_service_sid = data.twilio_messaging_service_sid or None
    if data.voice_numbers is not None:
        _set_numbers(business, NumberKind.voice, data.voice_numbers, "voice_numbers")
    if data.whatsapp_numbers is not None:
        _set_numbers(business, NumberKind.whatsapp, data.whatsapp_numbers, "whatsapp_numbers")
    if data.is_active is not None and data.is_active != business.is_active:
        _set_active(ctx, business, data.is_active)
    _flush_or_conflict()
    audit.record(
        ctx,
        "business.update",
        business_id=business.id,
        target_type="business",
        target_id=business.id,
        details={"fields": sorted(changes)},
    )
    db_session.commit()
    return business


def deactivate_business(ctx: RequestContext, business_id: int) -> Business:
    business = get_business(business_id)
    if business.is_active:
        _set_active(ctx, business, False)
        audit.record(
            ctx,
            "business.deactivate",
            business_id=business.id,
            target_type="business",
            target_id=business.id,
        )
        db_session.commit()
    return business


def _set_active(ctx: RequestContext, business: Business, active: bool) -> None:
    business.is_active = active
    if not active:
        # Its users are signed out and nobody keeps acting for it.
        for user_id in db_session.scalars(select(User.id).where(User.business_id == business.id)):
            auth_service.revoke_all_sessions(user_id)
        impersonation.end_for_business(business.id, "business_deactivated", ctx)


def _set_numbers(business: Business, kind: NumberKind, raw_numbers: Sequence[str], field: str) -> None:
    numbers: list[str] = []
    errors = []
    for index, raw in enumerate(raw_numbers):
        try:
            number = normalise_phone(raw)
        except InvalidPhone as exc:
            errors.append({"field": f"{field}.{index}", "message": str(exc), "type": "phone"})
            continue
        if number not in numbers:
            numbers.append(number)
    if errors:
        raise ValidationFailed(errors)
    owners = db_session.execute(
        select(BusinessNumber.number, BusinessNumber.business_id).where(
            BusinessNumber.kind == kind.value, BusinessNumber.number.in_(numbers)
        )
    ).all()
    taken = [number for number, owner in owners if owner != business.id]
    if taken:
        raise Conflict(
            "number_taken",
            f"{', '.join(taken)} already answer for another business ({field}).",
            field=field,
            numbers=taken,
        )
    keep = [n for n in business.numbers if n.kind != kind.value or n.number in numbers]
    existing = {n.number for n in keep if n.kind == kind.value}
    business.numbers = keep + [
        BusinessNumber(kind=kind.value, number=n) for n in numbers if n not in existing
    ]


def _flush_or_conflict() -> None:
    try:
        db_session.flush()
    except IntegrityError as exc:
        db_session.rollback()
        message = str(exc.orig).lower()
        if "twilio_messaging_service_sid" in message:
            raise Conflict(
                "messaging_service_taken",
                "That Twilio Messaging Service belongs to another business.",
                field="twilio_messaging_service_sid",
            ) from exc
        if "meta_phone_number_id" in message:
            raise Conflict(
                "meta_phone_number_id_taken",
                "That Meta phone_number_id belongs to another business.",
                field="meta_phone_number_id",
            ) from exc
        if "number" in message:
            raise Conflict("number_taken", "A number is already assigned to another business.") from exc
        if "email" in message:
            raise Conflict("email_taken", "A user with that email already exists.", field="email") from exc
        raise


# ---------------------------------------------------------------- users


def list_users(query: UserQuery) -> tuple[list[User], int]:
    stmt = select(User)
    if query.q:
        pattern = f"%{query.q.strip().lower()}%"
        stmt = stmt.where(or_(User.email.like(pattern), func.lower(User.full_name).like(pattern)))
    if query.role:
        stmt = stmt.where(User.role == query.role)
    if query.business_id is not None:
        stmt = stmt.where(User.business_id == query.business_id)
    if query.active is not None:
        stmt = stmt.where(User.is_active.is_(query.active))
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db_session.scalars(
        stmt.order_by(User.email).offset((query.page - 1) * query.page_size).limit(query.page_size)
    )
    return list(rows), total


def get_user(user_id: int) -> User:
    user = db_session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


@dataclass
class CreatedUser:
    user: User
    generated_password: str | None


def create_user(ctx: RequestContext | None, data: UserCreateIn) -> CreatedUser:
    role = Role(data.role)
    _check_may_manage(ctx, target_roles=(role,))
    business_id = _tenant_for_role(role, data.business_id)
    password = data.password or generate_password()
    user = User(
        email=auth_service.normalise_email(str(data.email)),
        full_name=data.full_name.strip(),
        role=role.value,
        business_id=business_id,
        password_hash=hash_password(password),
    )
    db_session.add(user)
    _flush_or_conflict()
    audit.record(
        ctx,
        "user.create",
        business_id=business_id,
        target_type="user",
        target_id=user.id,
        details={"email": user.email, "role": user.role},
    )
    db_session.commit()
    return CreatedUser(user, None if data.password else password)


def update_user(ctx: RequestContext, user_id: int, data: UserPatchIn) -> User:
    user = get_user(user_id)
    changes = data.model_dump(exclude_unset=True)
    new_role = Role(data.role) if data.role else Role(user.role)
    _check_may_manage(ctx, target_roles=(Role(user.role), new_role))
    revoke = False
    if "email" in changes and data.email is not None:
        user.email = auth_service.normalise_email(str(data.email))
    if data.full_name is not None:
        user.full_name = data.full_name.strip()
    if "role" in changes or "business_id" in changes:
        business_id = _tenant_for_role(
            new_role, data.business_id if "business_id" in changes else user.business_id
        )
        if new_role.value != user.role:
            _keep_an_admin(ctx, user, "change the role of")
        revoke = new_role.value != user.role or business_id != user.business_id
        user.role, user.business_id = new_role.value, business_id
    if data.is_active is not None and data.is_active != user.is_active:
        if not data.is_active:
            _keep_an_admin(ctx, user, "deactivate")
        user.is_active = data.is_active
        revoke = revoke or not data.is_active
    _flush_or_conflict()
    if revoke:
        auth_service.revoke_all_sessions(user.id)
    audit.record(
        ctx,
        "user.update",
        business_id=user.business_id,
        target_type="user",
        target_id=user.id,
        details={"fields": sorted(changes)},
    )
    db_session.commit()
    return user


def deactivate_user(ctx: RequestContext, user_id: int) -> User:
    return update_user(ctx, user_id, UserPatchIn(is_active=False))


def reset_password(ctx: RequestContext | None, user_id: int, password: str | None) -> str | None:
    """Set a new password (generated when none is given, and then returned once)."""
    user = get_user(user_id)
    _check_may_manage(ctx, target_roles=(Role(user.role),))
    new_password = password or generate_password()
    user.password_hash = hash_password(new_password)
    auth_service.revoke_all_sessions(user.id)
    audit.record(
        ctx, "user.reset_password", business_id=user.business_id, target_type="user", target_id=user.id
    )
    db_session.commit()
    return None if password else new_password


def _check_may_manage(ctx: RequestContext | None, target_roles: Sequence[Role]) -> None:
    if ctx is None or ctx.role is Role.admin:
        return
    if any(role in PLATFORM_ROLES for role in target_roles):
        raise Forbidden(
            "role_mismatch",
            "A manager may not create, promote, change or deactivate admin or manager users.",
        )


def _tenant_for_role(role: Role, business_id: int | None) -> int | None:
    if role is Role.business:
        if business_id is None:
            raise ValidationFailed(
                [{"field": "business_id", "message": "required for a business user", "type": "missing"}]
            )
        get_business(business_id)
        return business_id
    if business_id is not None:
        raise ValidationFailed(
            [{"field": "business_id", "message": "platform users belong to no business", "type": "value"}]
        )
    return None


def _keep_an_admin(ctx: RequestContext, user: User, verb: str) -> None:
    if ctx.user_id == user.id:
        raise Conflict("cannot_change_self", f"You cannot {verb} your own account.")
    if user.role == Role.admin.value and user.is_active:
        admins = db_session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))
        )
        if (admins or 0) <= 1:
            raise Conflict("last_admin", f"Cannot {verb} the last active admin.")
