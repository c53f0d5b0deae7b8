"""Shared by the bench scripts: start the real server (the README's run command) on a free port."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import OFFLINE, free_port  # noqa: E402

BIN = ROOT / ".venv" / "bin"


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(samples_ms: list[float]) -> str:
    return (
        f"n={len(samples_ms):4d}  p50={statistics.median(samples_ms):7.2f} ms  "
        f"p95={percentile(samples_ms, 95):7.2f} ms  p99={percentile(samples_ms, 99):7.2f} ms"
    )


@contextmanager
def running_server(database_url: str | None = None, **env: str) -> Iterator[tuple[str, str]]:
    """Migrate, create a bench admin, start gunicorn with the run command; yield (base, database_url)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    database_url = database_url or f"sqlite:///{workdir / 'bench.db'}"
    port = free_port()
    environment = {**os.environ, **OFFLINE, "DATABASE_URL": database_url, "PORT": str(port), **env}
    flask = [str(BIN / "flask"), "--app", "server.app"]
    subprocess.run([*flask, "migrate"], cwd=ROOT, env=environment, check=True, capture_output=True)
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PORT={port}"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start; see {workdir / 'server.log'}")
        yield base, database_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=40)


def gunicorn_processes(base: str) -> dict[int, int]:
    """The gunicorn processes serving `base` (Linux /proc): {pid: parent pid}."""
    bind = f"0.0.0.0:{base.rsplit(':', 1)[1]}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            if bind in command and b"gunicorn" in command:
                found[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    return found


def gunicorn_worker(base: str) -> int:
    """The pid of the worker (the gunicorn process whose parent is the gunicorn master)."""
    processes = gunicorn_processes(base)
    [worker] = [pid for pid, parent in processes.items() if parent in processes]
    return worker


def server_cpu_seconds(base: str) -> float:
    """CPU time (user + system) the gunicorn processes serving `base` have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in gunicorn_processes(base):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total
