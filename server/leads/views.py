"""/api/leads/**: the leads CRM (business users, impersonating staff; staff read across tenants)."""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context

from server.auth.context import RequestContext, current_context
from server.auth.guard import Access, access
from server.auth.schemas import UserRef
from server.auth.service import users_by_id
from server.db import db_session
from server.errors import ApiError, Forbidden
from server.leads import service, transfer
from server.leads.models import Lead, LeadEvent
from server.leads.schemas import (
    BulkResult,
    BulkStatusIn,
    ImportQuery,
    ImportReport,
    LeadCreateIn,
    LeadDetailOut,
    LeadEventOut,
    LeadOut,
    LeadPage,
    LeadPatchIn,
    LeadQuery,
    LeadWriteOut,
    NoteIn,
    PipelineIn,
    PipelineOut,
    StatusOut,
)
from server.leads.service import ALL_TENANTS, LeadScope
from server.validation import body_of, endpoint, query_of

bp = Blueprint("leads", __name__, url_prefix="/api/leads")
TAGS = ("leads",)


def lead_scope(ctx: RequestContext, business_id: int | None = None) -> LeadScope:
    """A tenant's own leads; every tenant's for platform staff who are not impersonating."""
    if ctx.tenant_id is None:
        return ALL_TENANTS  # the guard let only platform staff through here without a tenant
    if business_id is not None and business_id != ctx.tenant_id:
        raise Forbidden("scope_fail", "You may only read the leads of your own business.")
    return ctx.tenant_id


def lead_out(lead: Lead) -> LeadOut:
    return LeadOut.model_validate(lead)


def _write_out(write: service.LeadWrite) -> LeadWriteOut:
    return LeadWriteOut(**lead_out(write.lead).model_dump(), warnings=write.warnings)  # type: ignore[arg-type]


def _events_out(events: list[LeadEvent]) -> list[LeadEventOut]:
    actors = users_by_id(e.actor_id for e in events)
    return [
        LeadEventOut(
            id=e.id,
            kind=e.kind,
            at=e.at,
            actor=UserRef.model_validate(actors[e.actor_id]) if e.actor_id in actors else None,
            text=e.text,
            data=e.data,
        )
        for e in events
    ]


@bp.get("")
@access(Access.tenant_or_platform)
@endpoint(query=LeadQuery, resp=LeadPage, tags=TAGS)
def list_leads() -> LeadPage:
    query: LeadQuery = query_of(LeadQuery)
    rows, next_cursor = service.list_leads(lead_scope(current_context(), query.business_id), query)
    return LeadPage(items=[lead_out(lead) for lead in rows], next_cursor=next_cursor)


@bp.post("")
@endpoint(json=LeadCreateIn, resp=LeadWriteOut, status=201, tags=TAGS)
def create_lead() -> tuple[LeadWriteOut, int]:
    ctx = current_context()
    return _write_out(service.create_lead(ctx, ctx.tenant, body_of(LeadCreateIn))), 201


@bp.get("/<int:lead_id>")
@access(Access.tenant_or_platform)
@endpoint(resp=LeadDetailOut, tags=TAGS)
def get_lead(lead_id: int) -> LeadDetailOut:
    lead = service.get_lead(lead_scope(current_context()), lead_id)
    return LeadDetailOut(**lead_out(lead).model_dump(), timeline=_events_out(service.timeline(lead)))


@bp.patch("/<int:lead_id>")
@endpoint(json=LeadPatchIn, resp=LeadWriteOut, tags=TAGS)
def update_lead(lead_id: int) -> LeadWriteOut:
    ctx = current_context()
    return _write_out(service.update_lead(ctx, ctx.tenant, lead_id, body_of(LeadPatchIn)))


@bp.delete("/<int:lead_id>")
@endpoint(resp=LeadOut, tags=TAGS)
def delete_lead(lead_id: int) -> LeadOut:
    ctx = current_context()
    lead = service.get_lead(ctx.tenant, lead_id)
    out = lead_out(lead)
    service.delete_lead(ctx, ctx.tenant, lead_id)
    return out


@bp.post("/<int:lead_id>/notes")
@endpoint(json=NoteIn, resp=LeadEventOut, status=201, tags=TAGS)
def add_note(lead_id: int) -> tuple[LeadEventOut, int]:
    ctx = current_context()
    event = service.add_note(ctx, ctx.tenant, lead_id, body_of(NoteIn).text)
    return _events_out([event])[0], 201


@bp.post("/bulk-status")
@endpoint(json=BulkStatusIn, resp=BulkResult, tags=TAGS)
def bulk_status() -> BulkResult:
    ctx = current_context()
    data: BulkStatusIn = body_of(BulkStatusIn)
    return BulkResult(updated=service.bulk_move(ctx, ctx.tenant, data.ids, data.status))


@bp.get("/statuses")
@endpoint(resp=PipelineOut, tags=TAGS)
def get_pipeline() -> PipelineOut:
    statuses = service.pipeline(current_context().tenant)
    db_session.commit()  # the default pipeline may just have been created
    return PipelineOut(statuses=[StatusOut.model_validate(s, from_attributes=True) for s in statuses])


@bp.put("/statuses")
@endpoint(json=PipelineIn, resp=PipelineOut, tags=TAGS)
def save_pipeline() -> PipelineOut:
    ctx = current_context()
    statuses = service.save_pipeline(ctx, ctx.tenant, body_of(PipelineIn).statuses)
    return PipelineOut(statuses=[StatusOut.model_validate(s, from_attributes=True) for s in statuses])


@bp.get("/export.csv")
@access(Access.tenant_or_platform)
@endpoint(query=LeadQuery, tags=TAGS)
def export_csv() -> Response:
    query: LeadQuery = query_of(LeadQuery)
    scope = lead_scope(current_context(), query.business_id)
    response = Response(stream_with_context(transfer.export_csv(scope, query)), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="leads.csv"'
    return response


@bp.post("/import")
@endpoint(query=ImportQuery, resp=ImportReport, tags=TAGS)
def import_csv() -> ImportReport:
    ctx = current_context()
    query: ImportQuery = query_of(ImportQuery)
    upload = request.files.get("file")
    raw = upload.read() if upload is not None else request.get_data()
    if not raw:
        raise ApiError(
            "empty_file",
            "Send a CSV file (multipart field 'file', or the CSV as the request body).",
            status=400,
        )
    return transfer.import_csv(ctx, ctx.tenant, raw, dry_run=query.dry_run)
