"""WhatsApp agent through the real server (gunicorn -k gevent -w 1, embedded Huey consumer; SQLite unless
--database-url):

1. inbound webhook acknowledgement at --rate messages/s for --seconds (signed Twilio posts, open loop,
   from --customers senders), with every message also answered by a fake AI that takes --ai-delay s;
   then lost (acknowledged but not stored) and duplicated messages counted in the database;
2. inbound -> AI reply sent (the fake Twilio receives the send), one new customer at a time, with the
   fake AI answering in --ai-delay s.

    .venv/bin/python -m bench.whatsapp [--rate 200 --seconds 60 --customers 400 --ai-delay 0.5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import threading
import time
from pathlib import Path
from queue import Empty, Queue

import httpx
from sqlalchemy import create_engine, text

from bench.common import BIN, ROOT, percentile, running_server, summary
from tests.fakes import openai_chat, whatsapp_twilio
from tests.fakes.openai_chat import FakeOpenAIChat
from tests.fakes.whatsapp_twilio import FakeTwilio

EMAIL, PASSWORD = "bench-wa@example.com", "bench-password-123"
SENDER = "+97235550111"


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
            "/api/admin/businesses", json={"name": "bench", "whatsapp_numbers": [SENDER]}
        ).json()
        client.post(f"/api/admin/businesses/{business['id']}/impersonate", json={}).raise_for_status()
        prompt = {"calls_prompt": "c", "whatsapp_prompt": "ענו בקצרה."}
        client.put("/api/business/current/prompt", json=prompt).raise_for_status()


def load(url: str, rate: float, seconds: float, customers: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Open loop: message i is due at start + i/rate; 48 threads send what is due."""
    total = int(rate * seconds)
    jobs: Queue[tuple[int, float]] = Queue()
    results: list[tuple[float, float, int]] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def worker() -> None:
        with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=1)) as client:
            while True:
                try:
                    index, due = jobs.get(timeout=2)
                except Empty:
                    return
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                phone = f"+9725{20000000 + index % customers:08d}"
                form = whatsapp_twilio.inbound_form(phone, SENDER, f"הודעה {index}", sid=f"SM{index:032x}")
                headers = {"X-Twilio-Signature": whatsapp_twilio.sign(url, form)}
                began = time.monotonic()
                try:
                    status = client.post(url, data=form, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                ended = time.monotonic()
                with lock:
                    results.append(((ended - began) * 1000, (began - due) * 1000, status))

    for index in range(total):
        jobs.put((index, start + index / rate))
    threads = [threading.Thread(target=worker) for _ in range(48)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((results, time.monotonic() - start))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--ai-delay", type=float, default=0.5)
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    twilio, ai = FakeTwilio().start(), FakeOpenAIChat().start()
    ai.delay = args.ai_delay
    workdir = Path(f"/tmp/bench-wa-{int(time.time())}")
    workdir.mkdir()
    env = {
        "TWILIO_ACCOUNT_SID": whatsapp_twilio.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": whatsapp_twilio.AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio.base,
        "OPENAI_API_KEY": openai_chat.API_KEY,
        "OPENAI_BASE_URL": ai.base_url,
        "JOBS_SQLITE_PATH": str(workdir / "jobs.db"),
        "LOG_LEVEL": "warning",
    }
    with running_server(args.database_url or f"sqlite:///{workdir / 'wa.db'}", **env) as (base, database_url):
        setup(base, database_url)
        url = f"{base}/webhook/whatsapp/twilio"

        # 1. acknowledgement under load
        context = multiprocessing.get_context("spawn")
        out: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        generator = context.Process(target=load, args=(url, args.rate, args.seconds, args.customers, out))
        generator.start()
        results, elapsed = out.get()
        generator.join()
        acked = [r for r in results if r[2] == 200]
        ack_ms = [r[0] for r in results]
        lag_ms = [r[1] for r in results]
        print(
            f"database: {database_url.split('://')[0]}   sent {len(results)} in {elapsed:.1f} s "
            f"({len(results) / elapsed:.0f}/s) from {args.customers} customers, "
            f"fake AI {args.ai_delay * 1000:.0f} ms"
        )
        print(
            f"  webhook ack      {summary(ack_ms)}  max={max(ack_ms):7.2f} ms  "
            f"non-200={len(results) - len(acked)}"
        )
        print(
            f"  generator lag    p50={statistics.median(lag_ms):6.2f} ms  "
            f"p99={percentile(lag_ms, 99):6.2f} ms "
            "(how late a message left vs its schedule)"
        )
        time.sleep(8)  # let the replies drain
        engine = create_engine(database_url)
        with engine.connect() as db:
            stored = db.execute(text("SELECT count(*) FROM messages WHERE direction = 'in'")).scalar_one()
            distinct = db.execute(
                text("SELECT count(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'")
            ).scalar_one()
            events = db.execute(
                text("SELECT count(*) FROM inbound_events WHERE kind = 'message'")
            ).scalar_one()
            replies = db.execute(
                text("SELECT count(*) FROM messages WHERE author = 'ai' AND status != 'failed'")
            ).scalar_one()
            failed = db.execute(text("SELECT count(*) FROM messages WHERE status = 'failed'")).scalar_one()
        print(
            f"  stored {stored} inbound messages for {len(acked)} acknowledged: lost={len(acked) - distinct} "
            f"duplicated={stored - distinct} (intake rows {events})"
        )
        print(
            f"  AI replies sent {replies} (fake Twilio got {len(twilio.sends)}), failed {failed}, "
            f"AI calls {len(ai.calls)}"
        )

        # 2. inbound -> AI reply sent, one new customer at a time
        latencies = []
        with httpx.Client(timeout=10) as client:
            for index in range(args.latency_samples):
                phone = f"+9725{40000000 + index:08d}"
                form = whatsapp_twilio.inbound_form(phone, SENDER, "שלום, אפשר לקבוע תור?")
                began = time.monotonic()
                client.post(url, data=form, headers={"X-Twilio-Signature": whatsapp_twilio.sign(url, form)})
                deadline = began + 15
                while time.monotonic() < deadline:
                    sent = [
                        r for r in list(twilio.requests) if f"whatsapp%3A%2B{phone[1:]}".encode() in r.body
                    ]
                    if sent:
                        latencies.append((sent[0].at - began) * 1000)
                        break
                    time.sleep(0.005)
                time.sleep(0.3)
        print(
            f"  inbound -> reply {summary(latencies)}  (debounce 0.7 s + AI {args.ai_delay * 1000:.0f} ms; "
            f"{args.latency_samples - len(latencies)} missing)"
        )
    twilio.stop()
    ai.stop()


if __name__ == "__main__":
    main()
