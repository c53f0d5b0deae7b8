"""Print the PostgreSQL URL for the tests, creating its database if needed; exit 1 if none answers."""

from __future__ import annotations

import os
import sys

import psycopg
from sqlalchemy.engine import make_url

DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_test"


def main() -> int:
    url = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{url.database}"')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL at {url.host}:{url.port} does not answer: {exc}", file=sys.stderr)
        return 1
    print(url.render_as_string(hide_password=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
