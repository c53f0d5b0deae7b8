"""WhatsApp agent through the real server (gunicorn -k gevent -w 1, embedded Huey consumer; SQLite unless
--database-url), for Twilio, Meta or both (--provider):

1. inbound webhook acknowledgement at --rate messages/s for --seconds (signed posts, open loop, from
   --customers senders), every message answered by a fake AI that takes --ai-delay s. A --resend share
   of the deliveries is delivered again with the same provider id, as providers do on retries: half at
   the same moment (racing the first on another connection), half 1-3 s later. Then, after the
   replies drain, what matters is counted: inbound messages stored per provider id (lost: an
   acknowledged id stored 0 times; duplicated: stored more than once), and for every inbound message
   the sent replies that answer it (the fake AI echoes the lines it answers: duplicated = answered by
   more than one reply, unanswered = by none), and the AI calls spent per reply;
2. inbound -> AI reply sent (the fake provider receives the send), one new customer at a time.

Before measuring, --warmup replies per provider warm the new worker up (its first requests are slow:
lazy clients, cold SQLite pages); they are printed as such and not counted.

    .venv/bin/python -m bench.whatsapp [--provider both --rate 200 --seconds 60 --customers 400
                                        --ai-delay 0.5 --resend 0.1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.common import BIN, OFFLINE, ROOT, percentile, running_server, server_cpu_seconds, summary
from server.settings import load_settings
from tests.fakes import openai_chat, whatsapp_meta, whatsapp_twilio
from tests.fakes.openai_chat import FakeOpenAIChat
from tests.fakes.whatsapp_http import Recorded
from tests.fakes.whatsapp_meta import FakeMetaGraph
from tests.fakes.whatsapp_twilio import FakeTwilio

EMAIL, PASSWORD = "bench-wa@example.com", "bench-password-123"
SENDER = "+97235550111"
PNID, META_TOKEN = "106540352242922", "EAAG-bench-token"
CUSTOMER_BASE = {"twilio": 20000000, "meta": 30000000}  # separate senders per provider
LATENCY_BASE = {"twilio": 40000000, "meta": 50000000}
STEADY_AFTER = 5  # seconds: the acknowledgements once every customer has a conversation and a lead
WARMUP_CUSTOMERS = 9000  # the warm-up's senders, after the latency samples' (within LATENCY_BASE's range)


def setup(base: str, database_url: str) -> None:
    subprocess.run(
        [str(BIN / "flask"), "--app", "server.app", "create-admin", "--email", EMAIL, "--password", PASSWORD],
        cwd=ROOT,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    with httpx.Client(base_url=base, timeout=10) as client:
        client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD}).raise_for_status()
        client.headers["X-CSRFToken"] = client.get("/api/auth/csrf").json()["csrfToken"]
        business = client.post(
            "/api/admin/businesses",
            json={
                "name": "bench",
                "whatsapp_numbers": [SENDER],
                "meta_phone_number_id": PNID,
                "meta_access_token": META_TOKEN,
            },
        ).json()
        client.post(f"/api/admin/businesses/{business['id']}/impersonate", json={}).raise_for_status()
        prompt = {"calls_prompt": "c", "whatsapp_prompt": "ענו בקצרה."}
        client.put("/api/business/current/prompt", json=prompt).raise_for_status()


def phone_of(provider: str, customer: int, base: dict[str, int] = CUSTOMER_BASE) -> str:
    return f"+9725{base[provider] + customer:08d}"


def provider_id(provider: str, index: int) -> str:
    return f"SM{index:032x}" if provider == "twilio" else f"wamid.BENCH{index:024d}"


def request_for(
    provider: str, base: str, phone: str, body: str, message_id: str
) -> tuple[str, Any, dict[str, str]]:
    """(url, body, headers) of one signed inbound delivery as the provider posts it."""
    if provider == "twilio":
        url = f"{base}/webhook/whatsapp/twilio"
        form = whatsapp_twilio.inbound_form(phone, SENDER, body, sid=message_id)
        return url, form, {"X-Twilio-Signature": whatsapp_twilio.sign(url, form)}
    wa_id = phone.lstrip("+")
    message = whatsapp_meta.text_message(wa_id, body, message_id=message_id)
    payload = whatsapp_meta.webhook(
        [
            whatsapp_meta.change(
                PNID, [message], contacts=[whatsapp_meta.contact(wa_id, "לקוח", f"IL.{wa_id}")]
            )
        ]
    )
    raw, headers = whatsapp_meta.signed(payload)
    return f"{base}/webhook/whatsapp/meta", raw, headers


def post(client: httpx.Client, provider: str, request: tuple[str, Any, dict[str, str]]) -> int:
    url, body, headers = request
    if provider == "twilio":
        return client.post(url, data=body, headers=headers).status_code
    return client.post(url, content=body, headers=headers).status_code


@dataclass
class Delivery:
    index: int
    due: float  # seconds after the clock starts
    kind: str  # first | concurrent (a resend racing the first) | retry (a resend 1-3 s later)


def load(
    provider: str,
    base: str,
    rate: float,
    seconds: float,
    customers: int,
    resend: float,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """Open loop: message i is due at start + i/rate; 48 threads send what is due (resends included).
    Each thread has its client made and connected before the clock starts: the generator's own start
    (48 clients, their TLS contexts and connections) took the first second's CPU and showed as the
    server's latency."""
    total = int(rate * seconds)
    chooser = random.Random(42)
    deliveries = [Delivery(i, i / rate, "first") for i in range(total)]
    for index in chooser.sample(range(total), int(total * resend)):
        if index % 2:
            deliveries.append(Delivery(index, index / rate, "concurrent"))
        else:
            deliveries.append(Delivery(index, index / rate + chooser.uniform(1, 3), "retry"))
    deliveries.sort(key=lambda d: d.due)
    jobs: Queue[Delivery] = Queue()
    for delivery in deliveries:
        jobs.put(delivery)
    results: list[tuple[int, str, float, float, int]] = []
    lock = threading.Lock()
    threads_count = 48
    clock: list[float] = []
    # The clock starts once every thread is connected (the barrier's action): started before, a slow
    # start left the first deliveries late, and they left together as a burst the server had to queue.
    ready = threading.Barrier(threads_count + 1, action=lambda: clock.append(time.monotonic() + 0.2))

    def worker() -> None:
        with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=1)) as client:
            client.get(f"{base}/healthz").raise_for_status()
            client.cookies.clear()  # a provider's delivery carries none
            ready.wait()
            start = clock[0]
            while True:
                try:
                    delivery = jobs.get(timeout=2)
                except Empty:
                    return
                due = start + delivery.due
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                phone = phone_of(provider, delivery.index % customers)
                request = request_for(
                    provider, base, phone, f"הודעה {delivery.index}", provider_id(provider, delivery.index)
                )
                began = time.monotonic()
                try:
                    status = post(client, provider, request)
                except httpx.HTTPError:
                    status = 0
                ended = time.monotonic()
                with lock:
                    results.append(
                        (delivery.index, delivery.kind, (ended - began) * 1000, (began - due) * 1000, status)
                    )

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    out.put((results, time.monotonic() - clock[0]))


def by_second(
    results: list[tuple[int, str, float, float, int]], rate: float, column: int = 2, first: int = 12
) -> str:
    """A column's p99 (the acknowledgement; 3: the generator's lag) for each of the first seconds,
    then for the rest: where the tail is."""
    seconds: dict[int, list[float]] = {}
    for result in results:
        seconds.setdefault(min(int(result[0] / rate), first), []).append(result[column])
    return " ".join(
        f"{second}{'+' if second == first else ''}:{percentile(acks, 99):.0f}"
        for second, acks in sorted(seconds.items())
    )


def answered_lines(reply: str) -> list[str]:
    """The lines a fake-AI reply answers ("echo: a | b | c")."""
    return reply.removeprefix("echo: ").split(" | ") if reply.startswith("echo: ") else []


def reply_bodies(provider: str, twilio: FakeTwilio, meta: FakeMetaGraph) -> list[str]:
    if provider == "twilio":
        return [s.body for s in list(twilio.sends)]
    return [str((s.get("text") or {}).get("body", "")) for s in list(meta.sends)]


def count_what_matters(
    provider: str,
    database_url: str,
    results: list[tuple[int, str, float, float, int]],
    replies: list[str],
    ai_calls: int,
) -> None:
    acked = {index for index, _kind, _ms, _lag, status in results if status == 200}
    prefix = "SM" if provider == "twilio" else "wamid.BENCH"
    engine = create_engine(database_url)
    with engine.connect() as db:
        stored = Counter(
            {
                row[0]: row[1]
                for row in db.execute(
                    text(
                        "SELECT provider_message_id, count(*) FROM messages WHERE direction = 'in' "
                        "AND provider = :provider AND provider_message_id LIKE :prefix "
                        "GROUP BY provider_message_id"
                    ),
                    {"provider": provider, "prefix": prefix + "%"},
                )
            }
        )
        failed = db.execute(
            text("SELECT count(*) FROM messages WHERE status = 'failed' AND provider = :provider"),
            {"provider": provider},
        ).scalar_one()
    engine.dispose()
    sent_ids = {provider_id(provider, index) for index, *_rest in results}
    stored = Counter({key: count for key, count in stored.items() if key in sent_ids})  # not the warm-up's
    lost = [i for i in acked if stored.get(provider_id(provider, i), 0) == 0]
    doubled = sum(count - 1 for count in stored.values() if count > 1)
    answers: Counter[str] = Counter()
    for reply in replies:
        answers.update(set(answered_lines(reply)))
    lines = [f"הודעה {i}" for i in sorted(acked)]
    twice = sum(1 for line in lines if answers[line] > 1)
    unanswered = sum(1 for line in lines if answers[line] == 0)
    resent = Counter(kind for _index, kind, _ms, _lag, _status in results if kind != "first")
    print(
        f"  resent {sum(resent.values())} deliveries with the same id ({resent['concurrent']} racing the "
        f"first, {resent['retry']} 1-3 s later)"
    )
    print(
        f"  per provider id: {len(acked)} acknowledged, {len(stored)} stored: lost={len(lost)} "
        f"duplicated={doubled}"
    )
    print(
        f"  replies sent {len(replies)}: inbound answered twice or more={twice}, unanswered={unanswered}, "
        f"failed rows {failed}; AI calls {ai_calls} ({ai_calls / max(1, len(replies)):.2f} per reply)"
    )


def _to(provider: str, request: Recorded, phone: str) -> bool:
    """Is this request to the fake provider a send to `phone`?"""
    if provider == "twilio":
        return f"whatsapp%3A%2B{phone[1:]}".encode() in request.body
    try:
        return bool(request.json().get("to") == phone[1:])
    except ValueError:
        return False


def latency(
    provider: str, base: str, samples: int, twilio: FakeTwilio, meta: FakeMetaGraph, first_customer: int = 0
) -> list[float]:
    """Inbound -> the reply reaching the fake provider, one new customer at a time."""
    latencies = []
    with httpx.Client(timeout=10) as client:
        for index in range(samples):
            phone = phone_of(provider, first_customer + index, LATENCY_BASE)
            message_id = provider_id(provider, 10**9 + first_customer + index)
            request = request_for(provider, base, phone, "שלום, אפשר לקבוע תור?", message_id)
            began = time.monotonic()
            post(client, provider, request)
            deadline = began + 15
            while time.monotonic() < deadline:
                sent = [
                    r
                    for r in list((twilio if provider == "twilio" else meta).requests)
                    if _to(provider, r, phone)
                ]
                if sent:
                    latencies.append((sent[0].at - began) * 1000)
                    break
                time.sleep(0.005)
            time.sleep(0.3)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", choices=("twilio", "meta", "both"), default="both")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--ai-delay", type=float, default=0.5)
    parser.add_argument("--resend", type=float, default=0.1, help="share of deliveries sent again")
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--drain", type=float, default=10, help="seconds to let the replies finish")
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="replies per provider before measuring (a cold worker), not counted",
    )
    parser.add_argument("--database-url")
    parser.add_argument(
        "--redis-url",
        help="the scaled-out layout: Huey in Redis, the replies in --consumers separate huey_consumer "
        "processes instead of the gunicorn worker",
    )
    parser.add_argument("--consumers", type=int, default=1)
    parser.add_argument("--consumer-greenlets", type=int, default=64)
    args = parser.parse_args()
    providers = ("twilio", "meta") if args.provider == "both" else (args.provider,)

    twilio, meta, ai = FakeTwilio().start(), FakeMetaGraph().start(), FakeOpenAIChat().start()
    meta.tokens = {PNID: META_TOKEN}
    ai.delay = args.ai_delay
    workdir = Path(f"/tmp/bench-wa-{int(time.time())}")
    workdir.mkdir()
    env = {
        "TWILIO_ACCOUNT_SID": whatsapp_twilio.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": whatsapp_twilio.AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio.base,
        "META_APP_SECRET": whatsapp_meta.APP_SECRET,
        "META_GRAPH_BASE_URL": meta.graph_base,
        "OPENAI_API_KEY": openai_chat.API_KEY,
        "OPENAI_BASE_URL": ai.base_url,
        "JOBS_SQLITE_PATH": str(workdir / "jobs.db"),
        "LOG_LEVEL": "warning",
        "PUBLIC_BASE_URL": "",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
        flush_redis(args.redis_url)
    settings = load_settings()
    pacing = (
        f"debounce {settings.whatsapp_reply_debounce_seconds:g} s, burst quiet "
        f"{settings.whatsapp_reply_burst_quiet_seconds:g} s"
    )
    with running_server(args.database_url or f"sqlite:///{workdir / 'wa.db'}", **env) as (base, database_url):
        setup(base, database_url)
        consumers = [
            start_consumer(database_url, args.consumer_greenlets, env, workdir / f"consumer-{n}.log")
            for n in range(args.consumers if args.redis_url else 0)
        ]
        layout = (
            f"{len(consumers)} huey_consumer x {args.consumer_greenlets} greenlets (Redis)"
            if consumers
            else "consumer embedded in the gunicorn worker (SQLite job store)"
        )
        print(f"jobs: {layout}")
        try:
            measure(args, providers, base, database_url, twilio, meta, ai, pacing)
        finally:
            for consumer in consumers:
                consumer.terminate()
                consumer.wait(timeout=30)
    for server in (twilio, meta, ai):
        server.stop()


def flush_redis(url: str) -> None:
    """Nothing left in the job queue by an earlier run."""
    import redis

    redis.Redis.from_url(url).flushdb()


def start_consumer(
    database_url: str, greenlets: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """A separate consumer, as README's scale-out section runs it."""
    environment = {**os.environ, **OFFLINE, "DATABASE_URL": database_url, **env}
    return subprocess.Popen(
        [str(BIN / "huey_consumer"), "server.jobs.worker.huey", "-k", "greenlet", "-w", str(greenlets)],
        cwd=ROOT,
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def measure(
    args: argparse.Namespace,
    providers: tuple[str, ...],
    base: str,
    database_url: str,
    twilio: FakeTwilio,
    meta: FakeMetaGraph,
    ai: FakeOpenAIChat,
    pacing: str,
) -> None:
    for provider in providers:
        warm = latency(provider, base, args.warmup, twilio, meta, first_customer=WARMUP_CUSTOMERS)
        print(f"{provider}: warm-up, {len(warm)} replies (not counted)")
    twilio.reset()
    meta.reset()
    ai.reset()
    ai.delay = args.ai_delay
    for provider in providers:
        calls_before = len(ai.calls)
        context = multiprocessing.get_context("spawn")
        out: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        generator = context.Process(
            target=load,
            args=(provider, base, args.rate, args.seconds, args.customers, args.resend, out),
        )
        cpu_before = server_cpu_seconds(base)
        generator.start()
        results, elapsed = out.get()
        generator.join()
        cpu_load = server_cpu_seconds(base) - cpu_before
        ack_ms = [r[2] for r in results]
        lag_ms = [r[3] for r in results]
        print(
            f"{provider}: database {database_url.split('://')[0]}, sent {len(results)} in "
            f"{elapsed:.1f} s ({len(results) / elapsed:.0f}/s) from {args.customers} customers, fake AI "
            f"{args.ai_delay * 1000:.0f} ms, {pacing}"
        )
        print(
            f"  webhook ack      {summary(ack_ms)}  max={max(ack_ms):7.2f} ms  "
            f"non-200={sum(1 for r in results if r[4] != 200)}"
        )
        settled = [r[2] for r in results if r[0] >= STEADY_AFTER * args.rate]
        if settled:
            print(
                f"  ack after {STEADY_AFTER} s  {summary(settled)}  (the first seconds are every customer's "
                f"first message: a new conversation and lead each)"
            )
        print(f"  ack p99 by second (of the schedule): {by_second(results, args.rate)}")
        print(
            f"  generator lag    p50={statistics.median(lag_ms):6.2f} ms  "
            f"p99={percentile(lag_ms, 99):6.2f} ms (how late a delivery left vs its schedule)"
        )
        print(f"  lag p99 by second: {by_second(results, args.rate, column=3)}")
        time.sleep(args.drain)
        cpu_all = server_cpu_seconds(base) - cpu_before
        print(
            f"  server CPU       {cpu_load:.1f} s while sending ({cpu_load / elapsed * 100:.0f} % of a "
            f"core), {cpu_all:.1f} s with the {args.drain:g} s drain"
        )
        count_what_matters(
            provider,
            database_url,
            results,
            reply_bodies(provider, twilio, meta),
            len(ai.calls) - calls_before,
        )
        latencies = latency(provider, base, args.latency_samples, twilio, meta)
        print(
            f"  inbound -> reply {summary(latencies) if latencies else 'none'}  ({pacing}, AI "
            f"{args.ai_delay * 1000:.0f} ms; {args.latency_samples - len(latencies)} missing)"
        )


if __name__ == "__main__":
    main()
