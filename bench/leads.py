"""GET /api/leads at 100,000 leads in one business (1,100,000 in all), through the real server.

    .venv/bin/python -m bench.leads --database-url postgresql+psycopg://postgres@127.0.0.1/crm_bench --seed
    .venv/bin/python -m bench.leads --database-url sqlite:////tmp/leads-bench.db --seed

Measures, 200 requests each, logged in with CSRF on: the first page, page 500 by cursor, a search by
a partial Hebrew name, a filter by status; then the same SQL run directly (SQLAlchemy Core on one
connection) and the ratio server/SQL; and prints each query's plan.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import BIN, ROOT, percentile, running_server, summary
from bench.seed_leads import BENCH_ADMIN_EMAIL, BENCH_EMAIL, BENCH_PASSWORD
from server import pagination
from server.auth.context import TenantId
from server.db import make_engine
from server.leads import service
from server.leads.schemas import LeadQuery
from server.leads.service import ALL_TENANTS

FRAGMENTS = ["אביט", "כה", "בן-ח", "שפיר", "גולדב", "מיכ", "ליאת כ", "Kat"]
PAGE = 50


def _fresh_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    elif parsed.database:
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    environment = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    flask = [str(BIN / "flask"), "--app", "server.app", "migrate"]
    subprocess.run(flask, cwd=ROOT, env=environment, check=True, capture_output=True)


@dataclass(frozen=True)
class Case:
    staff: bool  # an admin who is not impersonating: every business's leads
    queries: list[LeadQuery]
    plans: int = 1  # how many of the queries' plans to print


def _cases(page_500_cursor: str) -> dict[str, Case]:
    return {
        "first page": Case(False, [LeadQuery(limit=PAGE)]),
        "page 500 (cursor)": Case(False, [LeadQuery(limit=PAGE, cursor=page_500_cursor)]),
        # The plans of a long fragment and of the two-letter one, where trigrams help least.
        "search partial name": Case(False, [LeadQuery(limit=PAGE, q=f) for f in FRAGMENTS], plans=2),
        "filter by status": Case(False, [LeadQuery(limit=PAGE, status=["qualified"])]),
        "filter by tag": Case(False, [LeadQuery(limit=PAGE, tag="vip")]),
        "staff: all businesses": Case(True, [LeadQuery(limit=PAGE)]),
    }


def _url(query: LeadQuery) -> tuple[str, list[tuple[str, Any]]]:
    params: list[tuple[str, Any]] = [("limit", query.limit)]
    if query.cursor:
        params.append(("cursor", query.cursor))
    if query.q:
        params.append(("q", query.q))
    if query.tag:
        params.append(("tag", query.tag))
    for status in query.status or []:
        params.append(("status", status))
    return "/api/leads", params


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", action="store_true", help="recreate, migrate and seed the database first")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--others", type=int, default=500)
    parser.add_argument("--small", type=int, default=2_000)
    args = parser.parse_args()

    if args.seed:
        _fresh_database(args.database_url)
        started = time.perf_counter()
        subprocess.run(
            [
                str(BIN / "python"),
                "-m",
                "bench.seed_leads",
                "--database-url",
                args.database_url,
                "--others",
                str(args.others),
                "--small",
                str(args.small),
            ],
            cwd=ROOT,
            check=True,
        )
        print(f"seeding took {time.perf_counter() - started:.1f}s in all\n")

    engine = make_engine(args.database_url)  # the server's engine settings, for the same SQL
    with engine.connect() as connection:
        tenant = TenantId(
            connection.execute(
                text("SELECT business_id FROM users WHERE email = :e"), {"e": BENCH_EMAIL}
            ).scalar_one()
        )
        total = connection.execute(
            text("SELECT count(*) FROM leads WHERE business_id = :b"), {"b": tenant}
        ).scalar_one()
        row = connection.execute(
            text(
                "SELECT id, created_at FROM leads WHERE business_id = :b AND deleted_at IS NULL "
                "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET :o"
            ),
            {"b": tenant, "o": PAGE * 499 - 1},
        ).one()
    created = (
        row.created_at if isinstance(row.created_at, datetime) else datetime.fromisoformat(row.created_at)
    )
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
    cursor = pagination.encode_cursor(created, row.id, scope="-created_at")
    cases = _cases(cursor)
    print(
        f"database: {engine.dialect.name}; business {tenant} has {total:,} leads; "
        f"{args.requests} requests per case\n"
    )

    http: dict[str, list[float]] = {}
    with running_server(args.database_url) as (base, _):
        clients = {
            staff: _logged_in(base, BENCH_ADMIN_EMAIL if staff else BENCH_EMAIL) for staff in (False, True)
        }
        print("through the server (HTTP, session, guard, validation, JSON):")
        for name, case in cases.items():
            samples = []
            for i in range(args.requests):
                path, params = _url(case.queries[i % len(case.queries)])
                t0 = time.perf_counter()
                response = clients[case.staff].get(path, params=params)
                samples.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.text
                assert len(response.json()["items"]) > 0, (name, params)
            http[name] = samples
            print(f"  {name:22s} {summary(samples)}")
        for client in clients.values():
            client.close()

    print("\nthe same SQL run directly (SQLAlchemy Core, one connection):")
    with engine.connect() as connection:
        for name, case in cases.items():
            scope = ALL_TENANTS if case.staff else tenant
            statements = [service.listing_statement(scope, q) for q in case.queries]
            samples = []
            for i in range(args.requests):
                t0 = time.perf_counter()
                connection.execute(statements[i % len(statements)]).all()
                samples.append((time.perf_counter() - t0) * 1000)
            p50 = statistics.median(http[name]) / statistics.median(samples)
            p95 = percentile(http[name], 95) / percentile(samples, 95)
            print(f"  {name:22s} {summary(samples)}   server/SQL {p50:4.1f}x at p50, {p95:4.1f}x at p95")

        print("\nplans:")
        for name, case in cases.items():
            for query in case.queries[: case.plans]:
                statement = service.listing_statement(ALL_TENANTS if case.staff else tenant, query)
                compiled = statement.compile(engine, compile_kwargs={"render_postcompile": True})
                postgres = engine.dialect.name == "postgresql"
                prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
                # SQLite's driver takes the parameters in the order they appear in the SQL.
                positional = tuple(compiled.params[key] for key in compiled.positiontup or [])
                plan = connection.exec_driver_sql(
                    prefix + str(compiled), compiled.params if postgres else positional
                ).all()
                print(f"-- {name}" + (f" (q={query.q!r})" if query.q else ""))
                for line in plan:
                    print("   ", " | ".join(str(part) for part in line))


def _logged_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    login = client.post("/api/auth/login", json={"email": email, "password": BENCH_PASSWORD})
    assert login.status_code == 200, login.text
    client.get("/api/auth/csrf")
    return client


if __name__ == "__main__":
    main()
