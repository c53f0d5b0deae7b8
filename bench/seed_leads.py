"""Seed a migrated database with 100,000 leads in one business and 1,000,000 across 500 more.

    .venv/bin/python -m bench.seed_leads --database-url postgresql+psycopg://postgres@127.0.0.1/crm_bench
    .venv/bin/python -m bench.seed_leads --database-url sqlite:////tmp/bench.db --small 200 --others 50

PostgreSQL: COPY, with the trigram index rebuilt once at the end. SQLite: batched executemany.
Prints the business user's credentials for bench/leads.py.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from bench.common import ROOT  # noqa: F401 - puts the project on sys.path
from server.auth.passwords import hash_password
from server.leads.models import DEFAULT_PIPELINE, Lead
from server.leads.service import search_text_of

FIRST = [
    "דוד",
    "משה",
    "יוסי",
    "אביטל",
    "נועה",
    "שרה",
    "רחל",
    "מיכל",
    "אורי",
    "תמר",
    "איתי",
    "יעל",
    "עומר",
    "שירה",
    "אלון",
    "הילה",
    "רוני",
    "גלית",
    "עידו",
    "ליאת",
    "Daniel",
    "Maya",
    "Adam",
    "Noa",
]
LAST = [
    "כהן",
    "לוי",
    "מזרחי",
    "פרץ",
    "ביטון",
    "דהן",
    "אברהם",
    "פרידמן",
    "אזולאי",
    "בן-חיים",
    "שפירא",
    "גולדברג",
    "אוחיון",
    "חדד",
    "Katz",
    "Levin",
]
STATUSES = [key for key, _, _ in DEFAULT_PIPELINE]
SOURCES = ["manual", "call", "whatsapp", "import", "api"]
BENCH_EMAIL = "bench-owner@bench.co.il"
BENCH_PASSWORD = "bench-owner-password"
# A platform admin, for the staff's listing of every business's leads.
BENCH_ADMIN_EMAIL = "bench-admin@bench.co.il"
BTREE_INDEXES = [
    "ix_leads_business_created",
    "ix_leads_business_status_created",
    "ix_leads_business_updated",
    "ix_leads_created",
    "ix_leads_updated",
    "ix_leads_business_email",
]
# One lead in four carries a tag (the listing aggregates tags in the same query).
TAGS = ["vip", "חתונה", "אירוע", "הצעת מחיר"]
COLUMNS = (
    "business_id, full_name, phone, phone_valid, email, source, status, notes, search_text, "
    "created_at, updated_at, status_changed_at"
)


def lead_rows(business_id: int, count: int, rng: random.Random, start: datetime):  # type: ignore[no-untyped-def]
    for i in range(count):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        phone = f"+9725{i % 9}{i:07d}"
        email = f"lead{i}@mail{business_id}.co.il" if i % 3 == 0 else None
        notes = "מעוניין בהצעת מחיר" if i % 7 == 0 else ""
        created = start + timedelta(seconds=i * 30)
        yield (
            business_id,
            name,
            phone,
            True,
            email,
            SOURCES[i % 5],
            STATUSES[i % 5],
            notes,
            search_text_of(name, email, notes, phone),
            created,
            created,
            created,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--big", type=int, default=100_000, help="leads in the measured business")
    parser.add_argument("--others", type=int, default=500, help="other businesses")
    parser.add_argument("--small", type=int, default=2_000, help="leads in each other business")
    args = parser.parse_args()

    engine = create_engine(args.database_url)
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    now = datetime.now(UTC)
    with engine.begin() as connection:
        ids = []
        for index in range(args.others + 1):
            name = "עסק המדידה" if index == 0 else f"עסק {index}"
            ids.append(
                connection.execute(
                    text(
                        "INSERT INTO businesses (name, timezone, is_active, created_at, updated_at) "
                        "VALUES (:n, 'Asia/Jerusalem', true, :t, :t) RETURNING id"
                    ),
                    {"n": name, "t": now if postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f")},
                ).scalar_one()
            )
        big = ids[0]
        for email, role, business_id in ((BENCH_EMAIL, "business", big), (BENCH_ADMIN_EMAIL, "admin", None)):
            connection.execute(
                text(
                    "INSERT INTO users (email, full_name, password_hash, role, business_id, is_active, "
                    "created_at, updated_at) VALUES (:e, 'Bench', :h, :r, :b, true, :t, :t)"
                ),
                {
                    "e": email,
                    "h": hash_password(BENCH_PASSWORD),
                    "r": role,
                    "b": business_id,
                    "t": now if postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f"),
                },
            )
        plan = [(big, args.big)] + [(bid, args.small) for bid in ids[1:]]
        if postgres:
            # Load first, index once: maintaining five indexes row by row is most of the cost.
            connection.execute(text("ALTER TABLE leads DROP CONSTRAINT IF EXISTS uq_leads_business_id_phone"))
            for index in [*BTREE_INDEXES, "ix_leads_search_trgm"]:
                connection.execute(text(f"DROP INDEX IF EXISTS {index}"))
            # Generated rows are consistent by construction: skip the per-row foreign-key triggers.
            connection.execute(text("SET session_replication_role = replica"))
            raw = connection.connection.dbapi_connection
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                for business_id, count in plan:
                    with cursor.copy(f"COPY leads ({COLUMNS}) FROM STDIN") as copy:
                        for row in lead_rows(business_id, count, rng, start):
                            copy.write_row(row)
            seeded = time.perf_counter() - started
            connection.execute(text("SET session_replication_role = DEFAULT"))
            print(f"COPY done in {seeded:.1f}s; building the indexes")
            connection.execute(text("SET maintenance_work_mem = '512MB'"))
            connection.execute(
                text(
                    "ALTER TABLE leads ADD CONSTRAINT uq_leads_business_id_phone UNIQUE (business_id, phone)"
                )
            )
            for index in Lead.__table__.indexes:
                if index.name in BTREE_INDEXES:
                    index.create(connection)
            connection.execute(
                text(
                    "CREATE INDEX ix_leads_search_trgm ON leads "
                    "USING gin (business_id, search_text gin_trgm_ops)"
                )
            )
            _seed_tags(connection)
            connection.execute(text("ANALYZE"))
        else:
            insert = text(
                f"INSERT INTO leads ({COLUMNS}) VALUES (:b, :n, :p, :v, :e, :so, :st, :no, :se, :c, :u, :sc)"
            )
            for business_id, count in plan:
                batch = []
                for row in lead_rows(business_id, count, rng, start):
                    b, n, p, v, e, so, st, no, se, c, *_ = row
                    # the text SQLAlchemy writes for a DateTime on SQLite (cursors compare these strings)
                    naive = c.strftime("%Y-%m-%d %H:%M:%S.%f")
                    batch.append(
                        {
                            "b": b,
                            "n": n,
                            "p": p,
                            "v": v,
                            "e": e,
                            "so": so,
                            "st": st,
                            "no": no,
                            "se": se,
                            "c": naive,
                            "u": naive,
                            "sc": naive,
                        }
                    )
                connection.execute(insert, batch)
            _seed_tags(connection)
            connection.execute(text("ANALYZE"))
    total = args.big + args.others * args.small
    print(f"seeded {total:,} leads in {args.others + 1} businesses in {time.perf_counter() - started:.1f}s")
    print(f"business_id={big} email={BENCH_EMAIL} password={BENCH_PASSWORD}")


def _seed_tags(connection) -> None:  # type: ignore[no-untyped-def]
    """Every fourth lead gets one of TAGS, in SQL (one statement for a million leads)."""
    tag = "CASE id % 16 / 4 " + " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TAGS)) + " END"
    connection.execute(
        text(
            f"INSERT INTO lead_tags (lead_id, tag, business_id) "
            f"SELECT id, {tag}, business_id FROM leads WHERE id % 4 = 0"
        )
    )


if __name__ == "__main__":
    main()
