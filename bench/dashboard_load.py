"""The dashboard in headless Chromium: first load, a 500-node canvas, an edit between browsers.

Figures, each against a baseline measured in the same invocation:

- first load of the dashboard (cold cache): bytes transferred (gzip, headers included)
  and time until the sign-in form is usable;
- time from opening a flow until its canvas is interactive (every node rendered, the
  document synced: "Live"), for a 500-node flow against a 1-node flow;
- time for a node added in one browser to appear in another, on the 500-node flow against
  the 1-node flow (both browsers have the flow open).

Usage: ``python bench/dashboard_load.py [--backend sqlite|postgres] [--repeat N] [--nodes N]``
(Debian's ``chromium`` at /usr/bin/chromium; nothing is downloaded).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import running_server

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "benchmark-password"


def graph(n: int) -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": f"n{i}",
                "type": "default",
                "position": {"x": (i % 25) * 180, "y": (i // 25) * 90},
                "data": {"label": f"Node {i}"},
            }
            for i in range(n)
        ],
        "edges": [{"id": f"e{i}", "source": f"n{i}", "target": f"n{i + 1}"} for i in range(n - 1)],
    }


def seed(base_url: str, nodes: int) -> dict[str, str]:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        email = f"bench-{secrets.token_hex(4)}@example.com"
        token = http.post("/v1/auth/signup", json={"email": email, "password": PASSWORD}).json()[
            "token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        org = http.post("/v1/orgs", json={"name": "bench"}, headers=auth).json()["id"]
        big = http.post(
            f"/v1/orgs/{org}/flows", json={"name": "big", **graph(nodes)}, headers=auth
        ).json()["id"]
        small = http.post(
            f"/v1/orgs/{org}/flows", json={"name": "small", **graph(1)}, headers=auth
        ).json()["id"]
    return {"token": token, "org": org, "big": big, "small": small}


def signed_in(browser: Browser, base_url: str, token: str) -> BrowserContext:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    context.add_init_script(f"localStorage.setItem('minibase.token', {token!r})")
    context.set_default_timeout(60_000)
    return context


def first_load(browser: Browser, base_url: str) -> tuple[int, int, float]:
    """Bytes over the wire (bodies as sent, gzip, plus headers), the same decoded, and ms
    to a usable form."""
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    responses: list[Any] = []
    page.on("requestfinished", lambda request: responses.append(request))
    start = time.perf_counter()
    page.goto("/login")
    page.get_by_label("Password").wait_for()
    elapsed = (time.perf_counter() - start) * 1000
    page.wait_for_load_state("networkidle")
    total = decoded = 0
    for request in responses:
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        decoded += len(request.response().body()) + sizes["responseHeadersSize"]
    context.close()
    return total, decoded, elapsed


def open_canvas(page: Page, org: str, flow: str, nodes: int) -> float:
    start = time.perf_counter()
    page.goto(f"/orgs/{org}/flows/{flow}")
    page.wait_for_function(
        "(n) => document.querySelectorAll('.react-flow__node').length === n && "
        "document.querySelector('[data-testid=connection]')?.textContent === 'Live'",
        arg=nodes,
        polling="raf",
    )
    return (time.perf_counter() - start) * 1000


def edit_latency(a: Page, b: Page) -> float:
    """ms from clicking "Add node" in ``a`` until ``b`` renders that node."""
    b.evaluate(
        """() => {
            const known = new Set([...document.querySelectorAll('.react-flow__node')]
                .map(e => e.dataset.id));
            window.seenAt = null;
            const observer = new MutationObserver(() => {
                for (const e of document.querySelectorAll('.react-flow__node')) {
                    if (!known.has(e.dataset.id)) {
                        window.seenAt = Date.now();
                        observer.disconnect();
                        return;
                    }
                }
            });
            const root = document.querySelector('.react-flow');
            observer.observe(root, {subtree: true, childList: true});
        }"""
    )
    clicked = a.evaluate(
        "() => { const t = Date.now(); "
        "[...document.querySelectorAll('button')].find(b => b.textContent === 'Add node').click();"
        " return t; }"
    )
    b.wait_for_function("() => window.seenAt !== null", polling="raf")
    return float(b.evaluate("window.seenAt")) - float(clicked)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=5, help="loads of each canvas")
    parser.add_argument("--edits", type=int, default=20, help="edits timed per flow")
    parser.add_argument("--nodes", type=int, default=500)
    args = parser.parse_args()

    with running_server(args.backend) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        ids = seed(server.base_url, args.nodes)
        loads = [first_load(browser, server.base_url) for _ in range(args.repeat)]
        print(f"# {' '.join(sys.argv)}")
        sent, decoded, _ = loads[0]
        print(
            "\n| first load (cold cache) | bytes sent (gzip) | bytes decoded | ratio | "
            "ms to the sign-in form (median) |"
        )
        print("|---|---|---|---|---|")
        print(
            f"| /login | {sent:,} | {decoded:,} | {sent / decoded:.2f} | "
            f"{statistics.median(ms for _, _, ms in loads):.0f} |"
        )

        context_a = signed_in(browser, server.base_url, ids["token"])
        context_b = signed_in(browser, server.base_url, ids["token"])
        a, b = context_a.new_page(), context_b.new_page()
        rows = []
        for name, count in (("small", 1), ("big", args.nodes)):
            opened = [open_canvas(a, ids["org"], ids[name], count) for _ in range(args.repeat)]
            open_canvas(b, ids["org"], ids[name], count)
            a.get_by_test_id("connection").get_by_text("Live").wait_for()
            edits = [edit_latency(a, b) for _ in range(args.edits)]
            rows.append((count, statistics.median(opened), statistics.median(edits), p95(edits)))
        (n1, open1, edit1, edit1_p95), (nb, openb, editb, editb_p95) = rows
        print(
            "\n| flow | ms to an interactive canvas (median) | ratio | "
            "edit seen by the other browser, ms (median) | p95 | ratio (median) |"
        )
        print("|---|---|---|---|---|---|")
        print(f"| {n1} node | {open1:.0f} | 1.00 | {edit1:.0f} | {edit1_p95:.0f} | 1.00 |")
        print(
            f"| {nb} nodes | {openb:.0f} | {openb / open1:.2f} | {editb:.0f} | "
            f"{editb_p95:.0f} | {editb / edit1:.2f} |"
        )
        context_a.close()
        context_b.close()
        browser.close()


if __name__ == "__main__":
    main()
