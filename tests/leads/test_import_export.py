"""CSV import (BOM, Hebrew headers, bad rows, duplicates, dry run, 10,000 rows) and export."""

from __future__ import annotations

import csv
import io
import time

from tests.conftest import Api, World, error_of


def _import(api: Api, text: str, *, dry_run: bool = False, bom: bool = False, encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    raw = (("\ufeff" if bom else "") + text).encode(encoding)
    url = "/api/leads/import" + ("?dry_run=true" if dry_run else "")
    return api.client.post(
        url,
        data={"file": (io.BytesIO(raw), "leads.csv")},
        headers={"X-CSRFToken": api.token or ""},
        content_type="multipart/form-data",
    )


EXCEL_HEBREW = (
    "שם,טלפון,אימייל,הערות,תגיות\n"
    "דוד כהן,050-234-5678,david@mail.co.il,רוצה הצעה,vip;חתונה\n"
    "רחל,0521112233,,,\n"
)


def test_excel_hebrew_csv_with_bom(world: World) -> None:
    api = world.as_("business_a")
    report = _import(api, EXCEL_HEBREW, bom=True).json
    assert report["created"] == 2 and report["errors"] == [] and report["dry_run"] is False
    leads = {lead["full_name"]: lead for lead in api.get("/api/leads").json["items"]}
    assert leads["דוד כהן"]["phone"] == "+972502345678"
    assert leads["דוד כהן"]["tags"] == ["vip", "חתונה"] and leads["דוד כהן"]["source"] == "import"
    assert leads["רחל"]["email"] is None


def test_windows_1255_and_semicolon_files(world: World) -> None:
    api = world.as_("business_a")
    report = _import(api, "שם;טלפון\nמשה;0501234567\n", encoding="cp1255").json
    assert report["created"] == 1
    assert api.get("/api/leads").json["items"][0]["full_name"] == "משה"


def test_dry_run_reports_row_errors_and_writes_nothing(world: World) -> None:
    api = world.as_("business_a")
    text = (
        "name,phone,email,status\nטוב,0502345678,,\nרע,12,,\nאין,,,\n"
        "מייל,0502345679,not-mail,\nסטטוס,0502345670,,archived\n"
    )
    report = _import(api, text, dry_run=True).json
    assert report["dry_run"] is True and report["rows"] == 5 and report["created"] == 1
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "phone"),
        (4, "phone"),
        (5, "email"),
        (6, "status"),
    ]
    assert api.get("/api/leads").json["items"] == []
    # The real run imports the good row and skips the bad ones.
    real = _import(api, text).json
    assert real["created"] == 1 and real["skipped"] == 4


def test_duplicates_by_phone_are_merged_never_doubled(world: World) -> None:
    api = world.as_("business_a")
    existing = api.post("/api/leads", {"phone": "0502345678", "notes": "ישן"}).json
    text = (
        "name,phone,notes,tags\nדוד,+972 50-234-5678,חדש,a\nדוד שוב,0502345678,,b\n"
        "אחר,0509999999,,\nאחר,972509999999,,\n"
    )
    report = _import(api, text).json
    assert report["created"] == 1 and report["merged"] == 1 and report["folded"] == 2
    assert report["rows"] == report["created"] + report["merged"] + report["folded"] + report["skipped"]
    leads = api.get("/api/leads").json["items"]
    assert len(leads) == 2
    merged = next(lead for lead in leads if lead["id"] == existing["id"])
    assert merged["full_name"] == "דוד" and merged["tags"] == ["a", "b"]
    assert "ישן" in merged["notes"] and "חדש" in merged["notes"]
    assert api.get(f"/api/leads/{existing['id']}").json["timeline"][-1]["kind"] == "merged"


def test_bad_files(world: World) -> None:
    api = world.as_("business_a")
    assert error_of(_import(api, "name,city\nא,ב\n")) == (422, "missing_columns")
    assert error_of(_import(api, "")) == (400, "empty_file")
    bad_bytes = api.client.post(
        "/api/leads/import",
        data=b"\xff\xfe\x00garbage\x81",
        headers={"X-CSRFToken": api.token or ""},
        content_type="text/csv",
    )
    assert bad_bytes.status_code in (415, 422)


def test_ten_thousand_rows_in_one_request(world: World) -> None:
    api = world.as_("business_a")
    lines = ["name,phone"] + [f"ליד {i},05{i % 10}{i:07d}" for i in range(10_000)]
    started = time.perf_counter()
    report = _import(api, "\n".join(lines)).json
    elapsed = time.perf_counter() - started
    assert report["created"] == 10_000 and report["errors"] == [], report["errors"][:3]
    assert elapsed < 60
    assert len(api.get("/api/leads?limit=500").json["items"]) == 500
    # Importing the same file again merges everything.
    again = _import(api, "\n".join(lines)).json
    assert again["created"] == 0 and again["merged"] == 10_000


def test_export_is_excel_friendly_and_follows_filters(world: World) -> None:
    api = world.as_("business_a")
    david_in = {"full_name": "דוד", "phone": "0502345678", "tags": ["vip"], "status": "won"}
    api.post("/api/leads", {**david_in, "assignee_id": world.user_a_id})
    api.post("/api/leads", {"full_name": "רחל", "phone": "0502345679"})
    body = api.get("/api/leads/export.csv").get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {r["full_name"] for r in rows} == {"דוד", "רחל"}
    david = next(r for r in rows if r["full_name"] == "דוד")
    assert david["tags"] == "vip" and david["assignee_email"] == "owner@a-biz.co.il"
    won = list(
        csv.DictReader(
            io.StringIO(api.get("/api/leads/export.csv?status=won").get_data().decode("utf-8-sig"))
        )
    )
    assert [r["full_name"] for r in won] == ["דוד"]


def test_import_lands_only_in_the_importers_business(world: World) -> None:
    _import(world.as_("business_b"), "name,phone\nשל ב,0502345678\n")
    assert world.as_("business_a").get("/api/leads").json["items"] == []
    admin_export = (
        world.as_("admin")
        .get(f"/api/leads/export.csv?business_id={world.business_b}")
        .get_data()
        .decode("utf-8-sig")
    )
    assert "של ב" in admin_export and admin_export.splitlines()[0].startswith("business_id")


def test_rows_without_a_phone_merge_by_email(world: World) -> None:
    api = world.as_("business_a")
    existing = api.post("/api/leads", {"full_name": "נועה", "email": "noa@mail.co.il"}).json
    text = "name,email,notes\n,NOA@mail.co.il,מהתערוכה\nחדש,new@mail.co.il,\nחדש,new@mail.co.il,שוב\n"
    report = _import(api, text).json
    assert (report["created"], report["merged"], report["folded"]) == (1, 1, 1)
    assert _import(api, text).json["created"] == 0  # the same file again doubles nothing
    leads = api.get("/api/leads").json["items"]
    assert sorted(lead["email"] for lead in leads) == ["new@mail.co.il", "noa@mail.co.il"]
    assert "מהתערוכה" in api.get(f"/api/leads/{existing['id']}").json["notes"]


def test_an_import_merge_keeps_the_notes_searchable(world: World) -> None:
    api = world.as_("business_a")
    lead = api.post("/api/leads", {"full_name": "יוסי", "phone": "0502345678"}).json
    assert api.post(f"/api/leads/{lead['id']}/notes", {"text": "מעוניין בשולחן אלון"}).status_code == 201
    assert _import(api, "name,phone,tags\n,0502345678,רהיטים\n").json["merged"] == 1
    found = api.get("/api/leads", query_string={"q": "שולחן אלון"}).json["items"]
    assert [item["id"] for item in found] == [lead["id"]]


def test_an_import_brings_a_deleted_lead_back_on_the_timeline_and_in_the_audit(world: World) -> None:
    api = world.as_("business_a")
    lead = api.post("/api/leads", {"full_name": "שרה", "phone": "0502345678", "status": "qualified"}).json
    api.delete(f"/api/leads/{lead['id']}")
    # Meanwhile the business drops the status the deleted lead had.
    pipeline = [s for s in api.get("/api/leads/statuses").json["statuses"] if s["key"] != "qualified"]
    statuses = [{"key": s["key"], "label": s["label"], "kind": s["kind"]} for s in pipeline]
    assert api.put("/api/leads/statuses", {"statuses": statuses}).status_code == 200
    assert _import(api, "phone\n0502345678\n").json["merged"] == 1
    back = api.get(f"/api/leads/{lead['id']}").json
    assert back["status"] == "new"
    restored = [e for e in back["timeline"] if e["kind"] == "restored"]
    assert restored and restored[0]["data"] == {"via": "import", "status": ["qualified", "new"]}
    audit = world.as_("admin").get("/api/admin/audit?action=lead.restore").json["items"]
    assert [row["target_id"] for row in audit] == [str(lead["id"])]


def test_export_cells_cannot_run_as_formulas_and_import_reads_them_back(world: World) -> None:
    api = world.as_("business_a")
    api.post("/api/leads", {"full_name": '=HYPERLINK("http://evil.test","x")', "phone": "0502345678"})
    api.post("/api/leads", {"full_name": "@SUM(1+1)", "phone": "0502345679", "notes": "-2+3"})
    rows = list(csv.DictReader(io.StringIO(api.get("/api/leads/export.csv").get_data().decode("utf-8-sig"))))
    by_phone = {row["phone"]: row for row in rows}
    assert set(by_phone) == {"+972502345678", "+972502345679"}  # E.164 phones are left alone
    assert by_phone["+972502345678"]["full_name"] == '\'=HYPERLINK("http://evil.test","x")'
    assert by_phone["+972502345679"]["full_name"] == "'@SUM(1+1)"
    assert by_phone["+972502345679"]["notes"] == "'-2+3"
    # Our own export read back into another business gives the original text.
    exported = api.get("/api/leads/export.csv").get_data().decode("utf-8-sig")
    other = world.as_("business_b")
    assert _import(other, exported).json["created"] == 2
    names = {lead["full_name"] for lead in other.get("/api/leads").json["items"]}
    assert names == {'=HYPERLINK("http://evil.test","x")', "@SUM(1+1)"}


def test_a_body_over_the_limit_is_refused_before_it_is_read(world: World) -> None:
    api = world.as_("business_a")
    response = api.client.post(
        "/api/leads/import",
        data=b"phone\n" + b"0502345678\n" * (2_400_000),  # ~26 MB
        headers={"X-CSRFToken": api.token or ""},
        content_type="text/csv",
    )
    assert error_of(response) == (413, "request_entity_too_large")
    assert response.json["message"]
