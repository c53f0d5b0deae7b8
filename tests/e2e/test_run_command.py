"""The README's run command serves the app; the owner's smoke test passes against it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from flask import Flask

from tests.e2e.server import ROOT, make_run


def test_make_run_then_the_owners_smoke_test(app: Flask, database_url: str, tmp_path: Path) -> None:
    with make_run(database_url, tmp_path / "server.log") as server:
        assert "gevent" in server.output()  # the maintained green-thread worker booted
        smoke = subprocess.run(
            [str(ROOT / "scripts" / "smoke.sh"), server.base, server.admin_email, server.admin_password],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        print(smoke.stdout)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "smoke test passed" in smoke.stdout
        ready = httpx.get(f"{server.base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
        version = httpx.get(f"{server.base}/version", timeout=5).json()
        assert set(version) == {"version", "commit", "built_at"}
