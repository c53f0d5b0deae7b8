"""The current business and its prompts; every function takes the tenant the guard resolved."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.admin import audit
from server.auth.context import RequestContext, TenantId
from server.business.models import Business, Prompt, PromptVersion
from server.db import db_session, utcnow


def get_business(tenant: TenantId) -> Business:
    business = db_session.get(Business, tenant)
    if business is None:  # the guard only hands out ids of existing businesses
        raise LookupError(f"business {tenant} vanished")
    return business


def get_prompt(tenant: TenantId) -> Prompt | None:
    return db_session.get(Prompt, tenant)


def calls_prompt_for(tenant: TenantId) -> str:
    """Read fresh from the database each time: a prompt saved a second ago applies now."""
    return db_session.scalar(select(Prompt.calls_prompt).where(Prompt.business_id == tenant)) or ""


def whatsapp_prompt_for(tenant: TenantId) -> str:
    return db_session.scalar(select(Prompt.whatsapp_prompt).where(Prompt.business_id == tenant)) or ""


def save_prompt(
    ctx: RequestContext | None, tenant: TenantId, calls_prompt: str, whatsapp_prompt: str
) -> Prompt:
    """Replace both prompts and append the pair to the history, as one transaction."""
    for attempt in range(3):
        try:
            return _save_prompt_once(ctx, tenant, calls_prompt, whatsapp_prompt)
        except IntegrityError:
            # Two saves raced for the same version number; the loser retries on top of the winner.
            db_session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _save_prompt_once(
    ctx: RequestContext | None, tenant: TenantId, calls_prompt: str, whatsapp_prompt: str
) -> Prompt:
    prompt = db_session.scalar(select(Prompt).where(Prompt.business_id == tenant).with_for_update())
    if prompt is None:
        prompt = Prompt(business_id=tenant, version=0)
        db_session.add(prompt)
    now = utcnow()
    user_id = ctx.user_id if ctx else None
    prompt.version += 1
    prompt.calls_prompt, prompt.whatsapp_prompt = calls_prompt, whatsapp_prompt
    prompt.updated_at, prompt.updated_by_id = now, user_id
    db_session.add(
        PromptVersion(
            business_id=tenant,
            version=prompt.version,
            calls_prompt=calls_prompt,
            whatsapp_prompt=whatsapp_prompt,
            saved_at=now,
            saved_by_id=user_id,
            impersonation_id=ctx.impersonation_id if ctx else None,
        )
    )
    audit.record(
        ctx,
        "prompt.update",
        business_id=tenant,
        target_type="prompt",
        target_id=tenant,
        details={
            "version": prompt.version,
            "calls_prompt_chars": len(calls_prompt),
            "whatsapp_prompt_chars": len(whatsapp_prompt),
        },
    )
    db_session.commit()
    return prompt


def prompt_history(tenant: TenantId, limit: int, before_version: int | None) -> list[PromptVersion]:
    query = (
        select(PromptVersion)
        .where(PromptVersion.business_id == tenant)
        .order_by(PromptVersion.version.desc())
        .limit(limit)
    )
    if before_version is not None:
        query = query.where(PromptVersion.version < before_version)
    return list(db_session.scalars(query))
