"""The owner's sequence, login → csrf → impersonate → save prompt, timed per request against the
real server (gunicorn -k gevent -w 1), on SQLite by default or DATABASE_URL.

    .venv/bin/python bench/auth_flow.py [--rounds 200] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import subprocess
import time
from typing import Any

import httpx

from bench.common import BIN, ROOT, running_server, summary

EMAIL, PASSWORD = "bench-admin@example.com", "bench-password-123"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    # The bench logs in 200 times from one address: lift the login limits for it alone.
    env = {"LOGIN_RATE_LIMIT_IP": "100000 per minute", "LOGIN_RATE_LIMIT_EMAIL": "100000 per minute"}
    with running_server(args.database_url, **env) as (base, database_url):
        flask = [str(BIN / "flask"), "--app", "server.app"]
        environment = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
        subprocess.run(
            [*flask, "create-admin", "--email", EMAIL, "--password", PASSWORD],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            check=False,
        )
        subprocess.run([*flask, "seed-demo"], cwd=ROOT, env=environment, capture_output=True, check=True)
        steps: dict[str, list[float]] = {"login": [], "csrf": [], "impersonate": [], "save_prompt": []}
        whole: list[float] = []
        for i in range(args.rounds):
            with httpx.Client(base_url=base) as client:
                started = time.perf_counter()

                def timed(
                    name: str, method: str, url: str, client: httpx.Client = client, **kw: Any
                ) -> httpx.Response:
                    t0 = time.perf_counter()
                    response = client.request(method, url, **kw)
                    steps[name].append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, (name, response.status_code, response.text)
                    return response

                timed("login", "POST", "/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
                token = timed("csrf", "GET", "/api/auth/csrf").json()["csrfToken"]
                headers = {"X-CSRFToken": token}
                timed("impersonate", "POST", "/api/admin/businesses/1/impersonate", headers=headers)
                body = {"calls_prompt": f"round {i}", "whatsapp_prompt": "ok"}
                timed("save_prompt", "PUT", "/api/business/current/prompt", headers=headers, json=body)
                whole.append((time.perf_counter() - started) * 1000)
        print(f"database: {database_url.split('://')[0]}   rounds: {args.rounds}")
        for name, samples in steps.items():
            print(f"  {name:12s} {summary(samples)}")
        everything = [s for samples in steps.values() for s in samples]
        print(f"  {'per request':12s} {summary(everything)}")
        print(f"  {'sequence':12s} {summary(whole)}")


if __name__ == "__main__":
    main()
