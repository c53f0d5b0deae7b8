"""The voice relay under load: N simultaneous fake calls through one gunicorn gevent worker.

Each call: the signed voice webhook, then the media stream with a 20 ms μ-law frame every 20 ms; the
fake OpenAI Realtime server (its own process) echoes every frame straight back as an audio delta;
the fake callers (their own process) measure, per frame, caller → AI and AI → caller latency (the
frame carries the send times; CLOCK_MONOTONIC is shared by the processes) and inter-arrival jitter.
The worker's CPU comes from /proc over the measured window. An N passes when the round trip's p99
is under 20 ms, no frame sent in the window was lost (each is matched by its send stamp, after a
grace second for the last ones in flight) and the server closed no stream.

`--churn R` also starts R short calls a second during the window (webhook, stream start, a
save_lead tool call with `--tool-call-after`, hang-up, the call saved): the database work of
calls, whose effect on the live calls shows in the hub lag.

    .venv/bin/python bench/calls.py [--transport fast|flask_sock] [--n 10,50,100,150] [--seconds 10]
        [--churn 5 --tool-call-after 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BIN, ROOT, percentile, running_server

AUTH_TOKEN = "bench-twilio-auth-token-0123456789"
PUBLIC_BASE = "https://bench.calls.example"
NUMBER = "+97235550101"
FRAME_MS = 20
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the callers' process


def _payload(call_index: int, seq: int) -> bytes:
    head = struct.pack(">qqii", time.perf_counter_ns(), 0, call_index, seq)
    return head + b"\xff" * (160 - len(head))


async def _callers(base: str, n: int, seconds: float, warmup: float, churn: float) -> dict[str, Any]:
    import httpx
    from twilio.request_validator import RequestValidator

    from tests.fakes.calls_twilio import FakeTwilioStream, call_sid, local_ws_url, parse_twiml, voice_form

    forward: list[float] = []
    back: list[float] = []
    round_trip: list[float] = []
    deviations: list[float] = []
    jitters: list[float] = []
    counts = {"sent": 0, "received": 0, "churned": 0}
    window = {"start": 0, "end": 0}  # perf_counter_ns; a frame counts if it was sent in between

    def in_window(stamp: int) -> bool:
        return (
            window["start"] != 0
            and stamp >= window["start"]
            and (window["end"] == 0 or stamp < window["end"])
        )

    validator = RequestValidator(AUTH_TOKEN)

    async def one_call(index: int, client: httpx.AsyncClient, measured: bool = True) -> FakeTwilioStream:
        sid = call_sid()
        form = voice_form(sid, f"+9725012{index:05d}", NUMBER)
        path = "/webhook/twilio/voice"
        signature = validator.compute_signature(PUBLIC_BASE + path, form)
        response = await client.post(base + path, data=form, headers={"X-Twilio-Signature": signature})
        twiml = parse_twiml(response.text)
        assert twiml is not None, response.text
        stream = FakeTwilioStream(local_ws_url(twiml.url, base), twiml.parameters, sid)
        state = {"last_arrival": 0.0, "last_sent": 0.0, "jitter": 0.0}

        def source(seq: int) -> bytes:
            payload = _payload(index, seq)
            if measured and in_window(struct.unpack(">q", payload[:8])[0]):
                counts["sent"] += 1
            return payload

        def on_media(audio: bytes, _arrival: float) -> None:
            now = time.perf_counter_ns()
            if len(audio) < 24 or not measured:
                return
            sent, at_ai, _call, _seq = struct.unpack(">qqii", audio[:24])
            if sent == 0 or at_ai == 0 or not in_window(sent):
                return
            counts["received"] += 1
            forward.append((at_ai - sent) / 1e6)
            back.append((now - at_ai) / 1e6)
            round_trip.append((now - sent) / 1e6)
            if state["last_arrival"]:
                d = (now - state["last_arrival"]) - (sent - state["last_sent"])
                deviations.append(abs(d) / 1e6)
                state["jitter"] += (abs(d) / 1e6 - state["jitter"]) / 16
            state["last_arrival"], state["last_sent"] = now, sent

        stream.audio_source = source
        stream.on_media = on_media
        await stream.open()
        stream.start_audio()
        stream.jitter_state = state  # type: ignore[attr-defined]
        return stream

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=20)) as client:
        streams = []
        for i in range(n):  # a ramp of ~1 s, as calls arrive, each call at a random phase of the 20 ms frame
            streams.append(await one_call(i, client))
            await asyncio.sleep(1.0 / max(n, 1) + random.random() * FRAME_MS / 1000)
        await asyncio.sleep(warmup)
        print("MEASURE_START", flush=True)
        window["start"] = time.perf_counter_ns()
        started = time.perf_counter()
        churning = [asyncio.create_task(_churn(churn, seconds, client, one_call, counts))] if churn else []
        await asyncio.sleep(seconds)
        window["end"] = time.perf_counter_ns()
        elapsed = time.perf_counter() - started
        print("MEASURE_END", flush=True)
        await asyncio.gather(*churning)
    await asyncio.sleep(1.0)  # the frames still in flight when the window closed
    closed_by_server = sum(1 for s in streams if s.closed.is_set())
    for stream in streams:
        jitters.append(stream.jitter_state["jitter"])  # type: ignore[attr-defined]
    await asyncio.gather(*(s.stop() for s in streams), return_exceptions=True)
    return {
        "n": n,
        "seconds": elapsed,
        "sent": counts["sent"],
        "received": counts["received"],
        "lost": counts["sent"] - counts["received"],
        "churned_calls": counts["churned"],
        "closed_by_server": closed_by_server,
        "forward": _stats(forward),
        "back": _stats(back),
        "round_trip": _stats(round_trip),
        "jitter_rfc3550_ms": statistics.fmean(jitters) if jitters else None,
        "interarrival_deviation_p99_ms": percentile(deviations, 99) if deviations else None,
    }


async def _churn(rate: float, seconds: float, client: Any, one_call: Any, counts: dict[str, int]) -> None:
    """`rate` short calls a second for `seconds`: each one starts, talks for a second, hangs up."""

    async def short_call(index: int) -> None:
        stream = await one_call(index, client, measured=False)
        await asyncio.sleep(1.0)
        await stream.stop()
        counts["churned"] += 1

    calls = []
    for i in range(int(rate * seconds)):
        calls.append(asyncio.create_task(short_call(100_000 + i)))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*calls, return_exceptions=True)


def _stats(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    return {"p50": statistics.median(samples), "p99": percentile(samples, 99), "max": max(samples)}


# ---------------------------------------------------------------- the conductor


def _worker_pid(master_port: int) -> int:
    """The gunicorn worker: the child of the gunicorn master whose command names our port."""
    processes: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        processes[int(entry.name)] = (ppid, cmdline)
    masters = [pid for pid, (_p, cmd) in processes.items() if "gunicorn" in cmd and f":{master_port}" in cmd]
    for pid, (ppid, cmd) in processes.items():
        if ppid in masters and "gunicorn" in cmd:
            return pid
    raise RuntimeError("gunicorn worker not found")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _seed(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    code = (
        "from server.db import init_db; from server.settings import load_settings;"
        "init_db(load_settings().database_url);"
        "from server.admin import service; from server.admin.schemas import BusinessCreateIn;"
        "from server.business.service import save_prompt; from server.auth.context import TenantId;"
        f"b = service.create_business(None, BusinessCreateIn(name='bench', voice_numbers=['{NUMBER}']));"
        "save_prompt(None, TenantId(b.id), 'You are a bench receptionist.', '')"
    )
    subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, env=env, check=True)


def _start_fake_ai(tool_call_after: float) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [
            str(BIN / "python"),
            "-m",
            "tests.fakes.calls_openai_realtime",
            "--mode",
            "echo",
            "--tool-call-after",
            str(tool_call_after),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, int(line.strip().split("=")[1])


def _run_phase(base: str, worker: int, n: int, seconds: float, warmup: float, churn: float) -> dict[str, Any]:
    process = subprocess.Popen(
        [
            str(BIN / "python"),
            "bench/calls.py",
            "--role",
            "callers",
            "--base",
            base,
            "--n",
            str(n),
            "--seconds",
            str(seconds),
            "--warmup",
            str(warmup),
            "--churn",
            str(churn),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    cpu_start = cpu_end = 0.0
    wall_start = wall_end = 0.0
    result: dict[str, Any] = {}
    lag: dict[str, Any] = {}
    for line in process.stdout:
        if line.startswith("MEASURE_START"):
            cpu_start, wall_start = _cpu_seconds(worker), time.perf_counter()
            httpx.get(f"{base}/internal/calls/stats?lag=1", timeout=10)  # reset the hub-lag samples
        elif line.startswith("MEASURE_END"):
            cpu_end, wall_end = _cpu_seconds(worker), time.perf_counter()
            lag = httpx.get(f"{base}/internal/calls/stats?lag=1", timeout=10).json()
        elif line.startswith("{"):
            result = json.loads(line)
    process.wait(timeout=120)
    wall = max(wall_end - wall_start, 1e-9)
    result["hub_lag"] = lag
    result["worker_cpu_percent"] = 100 * (cpu_end - cpu_start) / wall
    result["worker_cpu_ms_per_call_second"] = 1000 * (cpu_end - cpu_start) / wall / max(n, 1)
    return result


def _line(r: dict[str, Any]) -> str:
    def leg(name: str) -> str:
        s = r.get(name)
        return f"{s['p50']:6.2f}/{s['p99']:7.2f}" if s else "     -/      -"

    lost = r.get("lost", r["sent"])
    lost_pct = 100 * lost / r["sent"] if r.get("sent") else 100.0
    jitter = r.get("jitter_rfc3550_ms") or 0.0
    return (
        f"N={r['n']:4d}  round trip p50/p99 {leg('round_trip')} ms  caller→AI {leg('forward')}  "
        f"AI→caller {leg('back')}  jitter {jitter:5.2f} ms  "
        f"lost {lost} of {r['sent']} frames ({lost_pct:.2f} %)  "
        f"worker CPU {r['worker_cpu_percent']:5.1f} % "
        f"({r['worker_cpu_ms_per_call_second']:.2f} ms/s per call)"
        + (
            f"  hub lag p99 {r['hub_lag']['p99_ms']:.1f} max {r['hub_lag']['max_ms']:.1f} ms"
            f" (full GC pauses, ms: {r['hub_lag'].get('gc2')})"
            if r.get("hub_lag", {}).get("samples")
            else ""
        )
        + (f"  streams closed by server: {r['closed_by_server']}" if r.get("closed_by_server") else "")
        + (f"  churned calls: {r['churned_calls']}" if r.get("churned_calls") else "")
    )


def passes(r: dict[str, Any]) -> bool:
    """p99 under 20 ms, every frame back, no stream closed by the server."""
    round_trip = r.get("round_trip")
    return bool(
        round_trip
        and round_trip["p99"] < 20
        and r.get("sent", 0) > 0
        and r.get("lost", 1) == 0
        and r.get("closed_by_server", 1) == 0
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="conductor")
    parser.add_argument("--base")
    parser.add_argument("--n", default="10,20,40,60,80,100,120,140,160")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument(
        "--churn", type=float, default=0, help="short calls started per second while measuring"
    )
    parser.add_argument(
        "--tool-call-after", type=float, default=0, help="each AI session calls save_lead once, this long in"
    )
    parser.add_argument("--transport", default="fast", choices=["fast", "flask_sock"])
    parser.add_argument("--database-url")
    parser.add_argument(
        "--no-embedded-jobs", action="store_true", help="run the worker without the embedded Huey consumer"
    )
    parser.add_argument("--keep-going", action="store_true", help="do not stop at the first N over 20 ms")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority for the server, fake AI and callers (e.g. -10, needs root): on a shared "
        "machine, keeps other people's processes from starving the measurement",
    )
    args = parser.parse_args()
    if args.nice and args.role == "conductor":
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by every process started below

    if args.role == "callers":
        # uvloop: the load generator's own CPU (it shares the machine with the worker) perturbs less.
        result = uvloop.run(_callers(args.base, int(args.n), args.seconds, args.warmup, args.churn))
        print(json.dumps(result), flush=True)
        return

    fake_ai, ai_port = _start_fake_ai(args.tool_call_after)
    try:
        env = {
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "OPENAI_API_KEY": "sk-test-realtime",
            "OPENAI_REALTIME_URL": f"ws://127.0.0.1:{ai_port}/v1/realtime",
            "CALLS_WS_TRANSPORT": args.transport,
            "LOG_LEVEL": "warning",
            "CALLS_DEBUG_STATS": "true",
            **({"JOBS_EMBEDDED_CONSUMER": "false"} if args.no_embedded_jobs else {}),
        }
        with running_server(args.database_url, **env) as (base, database_url):
            _seed(database_url)
            worker = _worker_pid(int(base.rsplit(":", 1)[1]))
            print(
                f"transport: {args.transport}   worker pid {worker}   {os.cpu_count()} cores   "
                f"{args.seconds:.0f} s measured per N after {args.warmup:.0f} s warm-up   nice {args.nice}"
            )
            best = 0
            for n in [int(x) for x in args.n.split(",")]:
                load = os.getloadavg()[0]
                result = _run_phase(base, worker, n, args.seconds, args.warmup, args.churn)
                print(_line(result) + f"  (load avg before {load:.1f})", flush=True)
                if passes(result):
                    best = n
                elif not args.keep_going:
                    break
                try:
                    os.kill(worker, 0)
                except OSError:
                    print("!! the worker died")
                    break
            print(f"largest N with round-trip p99 < 20 ms, no frame lost, no stream closed: {best}")
    finally:
        fake_ai.terminate()
        fake_ai.wait(timeout=10)


if __name__ == "__main__":
    main()
