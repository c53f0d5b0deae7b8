"""/api/business/current/**: what a business user (or an impersonating admin) edits."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint

from server.auth.context import TenantId, current_context
from server.auth.schemas import UserRef
from server.auth.service import users_by_id
from server.business import service
from server.business.models import NumberKind
from server.business.schemas import (
    CurrentBusinessOut,
    PromptHistory,
    PromptHistoryQuery,
    PromptIn,
    PromptOut,
    PromptVersionOut,
)
from server.validation import body_of, endpoint, query_of

bp = Blueprint("business", __name__, url_prefix="/api/business/current")
TAGS = ("business",)


def _refs(user_ids: Iterable[int | None]) -> dict[int | None, UserRef]:
    """Keyed by optional ids so that `.get(row.saved_by_id)` reads as it means."""
    return {user_id: UserRef.model_validate(user) for user_id, user in users_by_id(user_ids).items()}


@bp.get("")
@endpoint(resp=CurrentBusinessOut, tags=TAGS)
def current_business() -> CurrentBusinessOut:
    business = service.get_business(current_context().tenant)
    return CurrentBusinessOut(
        id=business.id,
        name=business.name,
        timezone=business.timezone,
        is_active=business.is_active,
        voice_numbers=business.numbers_of(NumberKind.voice),
        whatsapp_numbers=business.numbers_of(NumberKind.whatsapp),
    )


def _prompt_out(tenant: TenantId) -> PromptOut:
    prompt = service.get_prompt(tenant)
    if prompt is None:
        return PromptOut(
            business_id=tenant,
            calls_prompt="",
            whatsapp_prompt="",
            version=0,
            updated_at=None,
            updated_by=None,
        )
    return PromptOut(
        business_id=prompt.business_id,
        calls_prompt=prompt.calls_prompt,
        whatsapp_prompt=prompt.whatsapp_prompt,
        version=prompt.version,
        updated_at=prompt.updated_at,
        updated_by=_refs([prompt.updated_by_id]).get(prompt.updated_by_id),
    )


@bp.get("/prompt")
@endpoint(resp=PromptOut, tags=TAGS)
def get_prompt() -> PromptOut:
    return _prompt_out(current_context().tenant)


@bp.put("/prompt")
@endpoint(json=PromptIn, resp=PromptOut, tags=TAGS)
def save_prompt() -> PromptOut:
    ctx = current_context()
    data: PromptIn = body_of(PromptIn)
    service.save_prompt(ctx, ctx.tenant, data.calls_prompt, data.whatsapp_prompt)
    return _prompt_out(ctx.tenant)


@bp.get("/prompt/history")
@endpoint(query=PromptHistoryQuery, resp=PromptHistory, tags=TAGS)
def prompt_history() -> PromptHistory:
    query: PromptHistoryQuery = query_of(PromptHistoryQuery)
    rows = service.prompt_history(current_context().tenant, query.limit, query.before_version)
    savers = _refs(row.saved_by_id for row in rows)
    return PromptHistory(
        items=[
            PromptVersionOut(
                version=row.version,
                calls_prompt=row.calls_prompt,
                whatsapp_prompt=row.whatsapp_prompt,
                saved_at=row.saved_at,
                saved_by=savers.get(row.saved_by_id),
                impersonation_id=row.impersonation_id,
            )
            for row in rows
        ]
    )
