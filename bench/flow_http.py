"""GET and PUT of a 100-node flow against the bare /healthz route, on SQLite and PostgreSQL.

Throughput: wrk -t2 -c50, GET flow vs /healthz on the same server in alternating slices;
the median ratio is the figure. Latency: wrk -t2 -c10, p50/p95/p99 of GET and of PUT (each
PUT a stale save moving one node, so every request merges three ways and writes a
version). These machines are noisy (/healthz varies twofold from minute to minute), so the
PUT latency is measured ``--repeat`` times, each right after a /healthz baseline, and the
run with the median p95 is reported with every run's p95 and baseline beside it.

    python bench/flow_http.py [--backend sqlite|postgres|both] [--seconds 6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import flow_body, running_server, seed_sync

LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format(
    "JSON{\\"requests\\":%d,\\"seconds\\":%f,\\"errors\\":%d,\\"non2xx\\":%d,"
    .. "\\"p50\\":%f,\\"p95\\":%f,\\"p99\\":%f}\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""


def put_script(token: str, body: dict[str, Any]) -> str:
    # Compact JSON, as a browser's JSON.stringify sends it.
    nodes = json.dumps(body["nodes"], separators=(",", ":"))
    edges = json.dumps(body["edges"], separators=(",", ":"))
    return (
        f"""
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local nodes = [==[{nodes}]==]
local edges = [==[{edges}]==]
request = function()
  local x = math.random(1, 1000000)
  local moved = string.gsub(nodes, '"x":0,', '"x":' .. x .. ',', 1)
  local b = '{{"baseVersion":1,"nodes":' .. moved .. ',"edges":' .. edges .. '}}'
  return wrk.format(nil, nil, nil, b)
end
"""
        + LUA_REPORT
    )


def wrk(
    url: str, connections: int, seconds: int, script: str, headers: dict[str, str] | None = None
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", f.name, url]
    for k, v in (headers or {}).items():
        args[1:1] = ["-H", f"{k}: {v}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    Path(f.name).unlink()
    line = next(x for x in out.splitlines() if x.startswith("JSON"))
    data = json.loads(line[4:])
    data["rps"] = data["requests"] / data["seconds"]
    return data


def run(backend: str, seconds: int, repeat: int) -> dict[str, Any]:
    with running_server(backend) as server:
        ids = seed_sync(server.base_url)
        auth = {"Authorization": f"Bearer {ids['token']}"}
        health_url = f"{server.base_url}/healthz"
        flow_url = f"{server.base_url}/v1/orgs/{ids['org']}/flows/{ids['flow']}"
        # Throughput as alternating slices of /healthz and GET, so that the machine's
        # drifting speed weighs on both sides of the ratio alike; the median ratio counts.
        pairs = []
        for _ in range(repeat):
            health = wrk(health_url, 50, max(2, seconds // 2), LUA_REPORT)
            get50 = wrk(flow_url, 50, max(2, seconds // 2), LUA_REPORT, auth)
            pairs.append((get50["rps"] / health["rps"], health, get50))
        pairs.sort(key=lambda p: p[0])
        _, health, get50 = pairs[len(pairs) // 2]
        get10 = wrk(flow_url, 10, seconds, LUA_REPORT, auth)
        puts = []
        for _ in range(repeat):
            baseline = wrk(health_url, 50, max(2, seconds // 2), LUA_REPORT)
            put = wrk(flow_url, 10, seconds, put_script(ids["token"], flow_body()))
            puts.append({**put, "baseline": baseline["rps"]})
    puts.sort(key=lambda p: p["p95"])
    return {
        "backend": backend,
        "ratios": [p[0] for p in pairs],
        "health": health,
        "get50": get50,
        "get10": get10,
        "put10": puts[len(puts) // 2],
        "puts": puts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="PUT latency runs (median)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    random.seed(1)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(
        f"command: python bench/flow_http.py --backend {args.backend} --seconds {args.seconds}"
        f" --repeat {args.repeat}"
    )
    print(
        "| backend | /healthz req/s (c50) | GET flow req/s (c50) | GET/healthz | "
        "every GET/healthz | GET p50/p95/p99 ms (c10) | PUT req/s (c10) | "
        "PUT p50/p95/p99 ms (c10, median run) | every PUT run: p95 ms (/healthz req/s just "
        "before) | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for backend in backends:
        r = run(backend, args.seconds, args.repeat)
        h, g, g10, p = r["health"], r["get50"], r["get10"], r["put10"]
        errors = sum(x["errors"] + x["non2xx"] for x in (h, g, g10, *r["puts"]))
        runs = ", ".join(f"{x['p95']:.1f} ({x['baseline']:.0f})" for x in r["puts"])
        ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
        print(
            f"| {backend} | {h['rps']:.0f} | {g['rps']:.0f} | {g['rps'] / h['rps']:.2f} | "
            f"{ratios} | "
            f"{g10['p50']:.2f} / {g10['p95']:.2f} / {g10['p99']:.2f} | {p['rps']:.0f} | "
            f"{p['p50']:.2f} / {p['p95']:.2f} / {p['p99']:.2f} | {runs} | {errors} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
