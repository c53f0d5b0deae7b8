"""Time to interactive of the leads page, and the table's scroll smoothness with 10,000 loaded rows,
in Debian's Chromium against the real server (`make run`).

    DATABASE_URL=sqlite:////tmp/x.db .venv/bin/flask --app server.app migrate
    .venv/bin/python -m bench.seed_leads --database-url sqlite:////tmp/x.db --others 0   # prints a user
    .venv/bin/python -m tests.e2e.browser.bench_leads_page --database-url sqlite:////tmp/x.db \\
        --email <business user> --password <password>

(or --base http://127.0.0.1:8000 for a server that is already running). Not a pytest module: it
prints numbers.

- TTI, cold: a new browser context holding only the session cookie (signed in once beforehand, so
  nothing of the app is in its HTTP cache: a signed-in user's first visit, or a shared deep link)
  opens /app/leads. Warm: that tab goes to about:blank and opens /app/leads again, the scripts and
  styles now cached (immutable for a year: none is asked for again), the API answered anew.
  "rows shown" is when the first table row is in the DOM, "interactive" is that or the end of the
  last long task (>= 50 ms) after it, whichever is later; both from navigation start. "js_kb" is
  the JavaScript that came over the network, as sent (the server does not compress it). Median of
  --runs, each run a new context.
- Scroll: the table's container is scrolled to its end until --rows rows are loaded (the keyset pages
  arrive as it nears the end), then a requestAnimationFrame loop scrolls it by --step px per frame
  through all of them; the frame-to-frame times are reported (60 Hz: 16.7 ms per frame).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.e2e.browser.conftest import CHROMIUM, CHROMIUM_ARGS

OBSERVE = """
(() => {
  window.__bench = { firstRow: null, longTasks: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bench.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  const seen = () => {
    if (window.__bench.firstRow === null && document.querySelector('[data-lead-id]')) {
      window.__bench.firstRow = performance.now();
    }
  };
  new MutationObserver(seen).observe(document, { childList: true, subtree: true });
})();
"""

SCROLL = """
async ({ step }) => {
  const box = document.querySelector('[data-testid="leads-table"]');
  box.scrollTop = 0;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  // Through the rows loaded now (more pages arrive as the end nears; they do not extend the run).
  const end = box.scrollHeight - box.clientHeight;
  const frames = [];
  let last = performance.now();
  let rowsInDom = 0;
  await new Promise((resolve) => {
    const tick = (now) => {
      frames.push(now - last);
      last = now;
      rowsInDom = Math.max(rowsInDom, box.querySelectorAll('[data-lead-id]').length);
      if (box.scrollTop >= end - 1) return resolve();
      box.scrollTop = Math.min(end, box.scrollTop + step);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  return { frames: frames.slice(1), scrollHeight: box.scrollHeight, rowsInDom };
}
"""


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.locator("input[name=email], input[type=email]").first.fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def new_context(browser: Any, **kwargs: Any) -> Any:
    return browser.new_context(
        locale="he-IL", timezone_id="Asia/Jerusalem", viewport={"width": 1366, "height": 900}, **kwargs
    )


def session_only(browser: Any, base: str, email: str, password: str) -> dict[str, Any]:
    """Sign in in a throwaway context; keep its cookies only (no cache, no local storage)."""
    context = new_context(browser)
    try:
        sign_in(context.new_page(), base, email, password)
        return {"cookies": context.cookies(), "origins": []}
    finally:
        context.close()


def load_leads_page(page: Any, base: str) -> dict[str, float]:
    page.goto(f"{base}/app/leads", wait_until="commit")
    page.wait_for_selector("[data-lead-id]", timeout=60_000)
    time.sleep(1.0)  # let any long task after the first rows finish and be reported
    data = page.evaluate("window.__bench")
    nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    js = page.evaluate(
        "performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.js'))"
        ".reduce((sum, e) => sum + e.transferSize, 0)"
    )
    first = float(data["firstRow"])
    ends = [start + duration for start, duration in data["longTasks"] if start + duration > first]
    return {
        "ttfb": float(nav["responseStart"]),
        "dom_content_loaded": float(nav["domContentLoadedEventEnd"]),
        "rows_shown": first,
        "interactive": max([first, *ends]),
        "js_kb": js / 1024,
    }


def measure_tti(browser: Any, base: str, state: dict[str, Any]) -> dict[str, dict[str, float]]:
    context = new_context(browser, storage_state=state)
    try:
        context.add_init_script(OBSERVE)
        page = context.new_page()
        cold = load_leads_page(page, base)
        # Away and back in the same tab (the same URL straight away would be a reload).
        page.goto("about:blank")
        warm = load_leads_page(page, base)
        return {"cold": cold, "warm": warm}
    finally:
        context.close()


def measure_scroll(
    browser: Any, base: str, email: str, password: str, rows: int, step: int
) -> dict[str, Any]:
    context = new_context(browser)
    try:
        page = context.new_page()
        sign_in(page, base, email, password)
        page.goto(f"{base}/app/leads")
        page.wait_for_selector("[data-lead-id]")
        started = time.monotonic()
        loaded = 0
        while loaded < rows:
            page.evaluate("document.querySelector('[data-testid=\"leads-table\"]').scrollTop = 1e9")
            time.sleep(0.05)
            loaded = page.evaluate(
                "document.querySelector('[data-testid=\"leads-table\"]').getAttribute('aria-rowcount') - 1"
            )
            if time.monotonic() - started > 300:
                raise SystemExit(f"only {loaded} rows loaded after 300 s")
        load_seconds = time.monotonic() - started
        page.wait_for_load_state("networkidle")
        result = page.evaluate(SCROLL, {"step": step})
        frames = sorted(result["frames"])
        n = len(frames)
        return {
            "rows_loaded": loaded,
            "load_seconds": load_seconds,
            "frames": n,
            "scroll_height_px": result["scrollHeight"],
            "max_rows_in_dom": result["rowsInDom"],
            "mean_ms": statistics.fmean(frames),
            "p50_ms": frames[n // 2],
            "p95_ms": frames[int(n * 0.95)],
            "p99_ms": frames[int(n * 0.99)],
            "max_ms": frames[-1],
            "over_25_ms (a dropped frame)": sum(1 for f in frames if f > 25) / n,
            "over_33_ms (two dropped)": sum(1 for f in frames if f > 33.4) / n,
            "heap_mb": page.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1048576 : -1"),
        }
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", help="a running server; else `make run` is started on --database-url")
    parser.add_argument("--database-url")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--step", type=int, default=120, help="px scrolled per frame")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with ExitStack() as stack:
        base = args.base
        if not base:
            from tests.e2e.server import make_run

            log = Path(tempfile.mkdtemp()) / "server.log"
            base = stack.enter_context(make_run(args.database_url, log, first_run=False)).base
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        stack.callback(browser.close)

        state = session_only(browser, base, args.email, args.password)
        runs = [measure_tti(browser, base, state) for _ in range(args.runs)]
        for kind in ("cold", "warm"):
            print(f"leads page, {args.runs} {kind} loads (ms from navigation start, median [min–max]):")
            for key in ("ttfb", "dom_content_loaded", "rows_shown", "interactive", "js_kb"):
                values = sorted(run[kind][key] for run in runs)
                print(f"  {key:20s} {statistics.median(values):8.0f}  [{values[0]:.0f}–{values[-1]:.0f}]")

        scroll = measure_scroll(browser, base, args.email, args.password, args.rows, args.step)
        print(
            f"table scroll with {scroll['rows_loaded']:,} rows loaded "
            f"(loading them took {scroll['load_seconds']:.1f} s):"
        )
        for key, value in scroll.items():
            if key in ("rows_loaded", "load_seconds"):
                continue
            shown = (
                f"{value:.1%}"
                if key.startswith("over")
                else (f"{value:.2f}" if isinstance(value, float) else f"{value:,}")
            )
            print(f"  {key:20s} {shown}")


if __name__ == "__main__":
    main()
