"""CSV import (dry run, per-row errors, duplicates merged by phone) and streaming CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from server.admin import audit
from server.auth.context import RequestContext, TenantId
from server.auth.models import User
from server.db import db_session, utcnow
from server.errors import ApiError
from server.leads import service
from server.leads.models import Lead, LeadEvent, LeadEventKind, LeadSource, LeadTag, NameSource
from server.leads.schemas import ImportReport, ImportRowError, LeadQuery
from server.phones import InvalidPhone, parse_phone

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000

# Column names people use, in English and Hebrew, mapped to lead fields.
HEADER_ALIASES = {
    "full_name": {"full_name", "name", "full name", "שם", "שם מלא", "לקוח", "שם הלקוח"},
    "phone": {"phone", "phone number", "mobile", "tel", "telephone", "טלפון", "נייד", "מספר טלפון", "פלאפון"},
    "email": {"email", "e-mail", "mail", "אימייל", "מייל", 'דוא"ל', "דואל", "דואר אלקטרוני"},
    "status": {"status", "סטטוס", "מצב"},
    "notes": {"notes", "note", "comments", "הערות", "הערה"},
    "tags": {"tags", "tag", "labels", "תגיות", "תגית"},
}
EXPORT_COLUMNS = [
    "id",
    "full_name",
    "phone",
    "email",
    "status",
    "source",
    "tags",
    "notes",
    "assignee_email",
    "created_at",
    "updated_at",
    "last_inbound_at",
]


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_IMPORT_BYTES:
        raise ApiError(
            "file_too_large", f"The file is larger than {MAX_IMPORT_BYTES // 1_048_576} MB.", status=413
        )
    for encoding in ("utf-8-sig", "cp1255"):  # Excel writes UTF-8 with a BOM, older Hebrew Excel cp1255
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ApiError("bad_encoding", "The file is neither UTF-8 nor Windows-1255 text.", status=422)


def _columns(header: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().strip('"').lower()
        for column, aliases in HEADER_ALIASES.items():
            if key in aliases and column not in mapping:
                mapping[column] = index
    if "phone" not in mapping and "email" not in mapping:
        raise ApiError(
            "missing_columns",
            "The header row needs a phone column (phone / טלפון) or an email column (email / אימייל).",
            status=422,
            header=header,
        )
    return mapping


@dataclass
class _Row:
    number: int
    full_name: str
    phone: str | None
    phone_valid: bool
    email: str | None
    status: str | None
    notes: str
    tags: list[str] = field(default_factory=list)


def _parse_rows(
    text: str, statuses: set[str]
) -> tuple[list[_Row], list[ImportRowError], list[ImportRowError], int]:
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise ApiError("empty_file", "The CSV file has no header row.", status=422)
    columns = _columns(header)
    rows: list[_Row] = []
    errors: list[ImportRowError] = []
    warnings: list[ImportRowError] = []
    count = 0
    for number, record in enumerate(reader, start=2):  # row 1 is the header
        if not any(cell.strip() for cell in record):
            continue
        count += 1
        if count > MAX_IMPORT_ROWS:
            raise ApiError("too_many_rows", f"Import at most {MAX_IMPORT_ROWS} rows per file.", status=413)

        def cell(column: str, record: list[str] = record) -> str:
            index = columns.get(column)
            return _uncell(record[index].strip()) if index is not None and index < len(record) else ""

        phone: str | None = None
        phone_valid = True
        if cell("phone"):
            try:
                parsed = parse_phone(cell("phone"))
            except InvalidPhone as exc:
                errors.append(ImportRowError(row=number, field="phone", message=str(exc)))
                continue
            phone, phone_valid = parsed.e164, parsed.valid
            if not parsed.valid:
                warnings.append(
                    ImportRowError(row=number, field="phone", message=f"{phone} is not an assigned number")
                )
        email: str | None = None
        if cell("email"):
            try:
                email = validate_email(cell("email"), check_deliverability=False).normalized.lower()
            except EmailNotValidError as exc:
                errors.append(ImportRowError(row=number, field="email", message=str(exc)))
                continue
        if phone is None and email is None:
            errors.append(
                ImportRowError(row=number, field="phone", message="a row needs a phone or an email")
            )
            continue
        status = cell("status") or None
        if status is not None and status not in statuses:
            errors.append(
                ImportRowError(row=number, field="status", message=f"'{status}' is not a status here")
            )
            continue
        tags = [t.strip()[:50] for t in cell("tags").replace(";", ",").split(",") if t.strip()][:20]
        rows.append(
            _Row(
                number,
                cell("full_name")[:200],
                phone,
                phone_valid,
                email,
                status,
                cell("notes")[:10_000],
                tags,
            )
        )
    return rows, errors, warnings, count


def import_csv(ctx: RequestContext, tenant: TenantId, raw: bytes, *, dry_run: bool) -> ImportReport:
    """Parse, validate and merge by phone. A dry run reports without writing anything."""
    pipeline_keys = service.status_keys(tenant)
    rows, errors, warnings, count = _parse_rows(_decode(raw), set(pipeline_keys))

    # Within the file: the same phone (or, without one, the same email) twice is one lead; later rows
    # fill what earlier ones lacked.
    firsts: dict[str, _Row] = {}
    unique_rows: list[_Row] = []
    for row in rows:
        key = _identity(row)
        first = firsts.get(key)
        if first is None:
            firsts[key] = row
            unique_rows.append(row)
            continue
        first.full_name = first.full_name or row.full_name
        first.email = first.email or row.email
        first.status = row.status or first.status
        first.notes = "\n".join(n for n in (first.notes, row.notes) if n)
        first.tags = list(dict.fromkeys(first.tags + row.tags))[:20]

    existing = _existing_by_phone(tenant, [row.phone for row in unique_rows if row.phone])
    existing_by_email = _existing_by_email(tenant, [row.email for row in unique_rows if not row.phone])

    def match(row: _Row) -> Lead | None:
        return existing.get(row.phone) if row.phone else existing_by_email.get(row.email or "")

    created = sum(1 for row in unique_rows if match(row) is None)
    merged = len(unique_rows) - created
    report = ImportReport(
        dry_run=dry_run,
        rows=count,
        created=created,
        merged=merged,
        folded=len(rows) - len(unique_rows),
        skipped=len(errors),
        errors=errors,
        warnings=warnings,
    )
    if dry_run:
        return report

    now = utcnow()
    new_leads: list[Lead] = []
    changed_leads: list[Lead] = []
    for row in unique_rows:
        lead = match(row)
        if lead is not None:
            if _merge_into(lead, row, ctx, now):
                changed_leads.append(lead)
            continue
        lead = Lead(
            business_id=tenant,
            full_name=row.full_name,
            phone=row.phone,
            phone_valid=row.phone_valid,
            email=row.email,
            source=LeadSource.import_.value,
            status=row.status or pipeline_keys[0],
            notes=row.notes,
            created_by_id=ctx.user_id,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            status_changed_by_id=ctx.user_id,
        )
        lead.tags = [LeadTag(tag=tag, business_id=tenant) for tag in row.tags]
        lead.search_text = service.build_search_text(lead)
        new_leads.append(lead)
    service.refresh_search_texts(changed_leads)  # keeps the notes' text searchable
    db_session.add_all(new_leads)
    db_session.flush()
    db_session.add_all(
        LeadEvent(
            business_id=tenant,
            lead_id=lead.id,
            kind=LeadEventKind.created.value,
            actor_id=ctx.user_id,
            at=now,
            data={"source": "import"},
        )
        for lead in new_leads
    )
    audit.record(
        ctx,
        "leads.import",
        business_id=tenant,
        details={
            "rows": count,
            "created": created,
            "merged": merged,
            "folded": report.folded,
            "skipped": len(errors),
        },
    )
    db_session.commit()
    return report


def _identity(row: _Row) -> str:
    """What makes two rows one person: the phone, else the email (every row has one of them)."""
    return f"phone:{row.phone}" if row.phone else f"email:{row.email}"


def _existing_by_email(tenant: TenantId, emails: list[str | None]) -> dict[str, Lead]:
    """Live leads by email, for rows without a phone; the oldest lead wins when several share one."""
    wanted = sorted({email for email in emails if email})
    found: dict[str, Lead] = {}
    for start in range(0, len(wanted), 500):
        rows = db_session.scalars(
            select(Lead)
            .where(
                Lead.business_id == tenant,
                Lead.email.in_(wanted[start : start + 500]),
                Lead.deleted_at.is_(None),
            )
            .order_by(Lead.id.desc())
        )
        found.update({lead.email: lead for lead in rows if lead.email})
    return found


def _existing_by_phone(tenant: TenantId, phones: list[str]) -> dict[str, Lead]:
    found: dict[str, Lead] = {}
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        for lead in db_session.scalars(select(Lead).where(Lead.business_id == tenant, Lead.phone.in_(chunk))):
            if lead.phone is not None:
                found[lead.phone] = lead
    return found


def _merge_into(lead: Lead, row: _Row, ctx: RequestContext, now: object) -> bool:
    """Fill blanks, append notes, union tags; a name or email already on the lead is kept.
    Returns whether the lead changed (its search text is then rebuilt by the caller)."""
    changed: dict[str, object] = {}
    if lead.deleted_at is not None:
        service.restore_lead(lead, "import", ctx)
        changed["restored"] = True
    if row.full_name and not lead.full_name:
        lead.full_name = changed["full_name"] = row.full_name  # type: ignore[assignment]
        lead.name_source = NameSource.human.value
    if row.email and not lead.email:
        lead.email = changed["email"] = row.email  # type: ignore[assignment]
    if row.notes and row.notes not in lead.notes:
        lead.notes = (lead.notes + "\n" + row.notes).strip()
        changed["notes"] = True
    new_tags = [t for t in row.tags if t not in lead.tag_names]
    if new_tags:
        lead.tags = lead.tags + [LeadTag(tag=t, business_id=lead.business_id) for t in new_tags]
        changed["tags"] = new_tags
    if changed:
        service.record_event(
            lead, LeadEventKind.merged, ctx.user_id, data={"import_row": row.number, **changed}
        )
        lead.updated_at = now  # type: ignore[assignment]
    return bool(changed)


# A cell starting with one of these is a formula to Excel and LibreOffice; names and notes come from
# callers and WhatsApp senders, so an exported cell gets a leading apostrophe, which the
# spreadsheet hides (OWASP's advice on CSV injection). E.164 phones stay as they are.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_PHONE = re.compile(r"\+\d{4,15}")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _PLAIN_PHONE.fullmatch(value):
        return "'" + value
    return value


def _uncell(value: str) -> str:
    """The import side of _cell: our own export read back gives the original text."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        return value[1:]
    return value


def _csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(v) for v in values])
    return buffer.getvalue()


def export_csv(scope: service.LeadScope, query: LeadQuery) -> Iterator[str]:
    """UTF-8 with a BOM (so Excel shows Hebrew), streamed page by page in the listing's order."""
    header: list[object] = list(EXPORT_COLUMNS)
    if isinstance(scope, service.AllTenants):
        header.insert(0, "business_id")
    yield "\ufeff" + _csv_line(header)
    page_query = query.model_copy(update={"limit": 500, "cursor": None})
    emails: dict[int, str] = {}
    while True:
        leads, next_cursor = service.list_leads(scope, page_query)
        missing = {lead.assignee_id for lead in leads if lead.assignee_id and lead.assignee_id not in emails}
        if missing:
            rows = db_session.execute(select(User.id, User.email).where(User.id.in_(missing)))
            emails.update({user_id: email for user_id, email in rows})
        for lead in leads:
            values: list[object] = [
                lead.id,
                lead.full_name,
                lead.phone,
                lead.email,
                lead.status,
                lead.source,
                ", ".join(lead.tag_names),
                lead.notes,
                emails.get(lead.assignee_id) if lead.assignee_id else None,
                lead.created_at.isoformat(),
                lead.updated_at.isoformat(),
                lead.last_inbound_at.isoformat() if lead.last_inbound_at else None,
            ]
            if isinstance(scope, service.AllTenants):
                values.insert(0, lead.business_id)
            yield _csv_line(values)
        if next_cursor is None:
            return
        page_query = page_query.model_copy(update={"cursor": next_cursor})
        db_session.expunge_all()
