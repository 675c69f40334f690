"""GET and PUT of a 100-node flow against the bare /healthz route, on SQLite and PostgreSQL.

Throughput: wrk -t2 -c50, GET flow vs /healthz on the same server in alternating slices;
the median ratio is the figure. Latency: wrk -t2 -c10, p50/p95/p99 of GET and of PUT (each
PUT a stale save moving one node, so every request merges three ways and writes a
version). These machines are noisy (/healthz varies twofold from minute to minute), so the
PUT latency is measured ``--repeat`` times, each right after a /healthz baseline, and the
run with the median p95 is reported with every run's p95 and baseline beside it, and the
server process's own CPU time per GET and per PUT (from ``/proc``), which a loaded
machine disturbs far less than latency and throughput.

``--before REV`` measures a git revision of Minibase side by side with this tree, in the
same invocation: REV is checked out in a temporary worktree, both servers run at once,
and every measurement alternates between them (this tree, then REV, slice by slice), so
the machine's drift weighs on both alike. One row per server and backend.

``--encryption`` measures the cost of encryption at rest the same way: this tree as it
is, beside this tree with encryption switched off (``bench/plaintext/sitecustomize.py``),
and prints the ratios of the two.

    python bench/flow_http.py [--backend sqlite|postgres|both] [--seconds 6] [--repeat 3]
        [--before REV | --encryption]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, flow_body, running_server, seed_sync

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


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / CLOCK_TICKS


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


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """``revision`` of this repository in a temporary worktree (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="minibase-before-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision],
            check=True,
            capture_output=True,
        )
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )


PLAINTEXT = ROOT / "bench" / "plaintext"


def run(
    backend: str, seconds: int, repeat: int, trees: dict[str, list[Path]]
) -> list[dict[str, Any]]:
    """Every measurement of the named servers, run at once and measured in turn; each
    imports its code from its ``PYTHONPATH`` directories, before the installed package."""
    slice_seconds = max(2, seconds // 2)
    with ExitStack() as stack:
        targets = {}
        pids = {}
        for name, path in trees.items():
            pythonpath = os.pathsep.join(str(p) for p in path)
            server = stack.enter_context(running_server(backend, {"PYTHONPATH": pythonpath}))
            ids = seed_sync(server.base_url)
            targets[name] = (server.base_url, ids)
            pids[name] = server.process.pid
        results: dict[str, dict[str, Any]] = {
            name: {"tree": name, "backend": backend, "pairs": [], "puts": [], "get_cpu": []}
            for name in trees
        }
        # Throughput as alternating slices of /healthz and GET, so that the machine's
        # drifting speed weighs on both sides of the ratio alike; the median ratio counts.
        for _ in range(repeat):
            for name, (base, ids) in targets.items():
                auth = {"Authorization": f"Bearer {ids['token']}"}
                flow_url = f"{base}/v1/orgs/{ids['org']}/flows/{ids['flow']}"
                health = wrk(f"{base}/healthz", 50, slice_seconds, LUA_REPORT)
                cpu = cpu_seconds(pids[name])
                get50 = wrk(flow_url, 50, slice_seconds, LUA_REPORT, auth)
                get_cpu = (cpu_seconds(pids[name]) - cpu) * 1000 / max(1, get50["requests"])
                results[name]["get_cpu"].append(get_cpu)
                results[name]["pairs"].append((get50["rps"] / health["rps"], health, get50))
        for name, (base, ids) in targets.items():
            auth = {"Authorization": f"Bearer {ids['token']}"}
            flow_url = f"{base}/v1/orgs/{ids['org']}/flows/{ids['flow']}"
            results[name]["get10"] = wrk(flow_url, 10, seconds, LUA_REPORT, auth)
        for _ in range(repeat):
            for name, (base, ids) in targets.items():
                flow_url = f"{base}/v1/orgs/{ids['org']}/flows/{ids['flow']}"
                baseline = wrk(f"{base}/healthz", 50, slice_seconds, LUA_REPORT)
                # The server's own CPU time per PUT: much steadier than latency on a
                # machine shared with other jobs.
                cpu = cpu_seconds(pids[name])
                put = wrk(flow_url, 10, seconds, put_script(ids["token"], flow_body()))
                put["cpu_ms"] = (cpu_seconds(pids[name]) - cpu) * 1000 / max(1, put["requests"])
                results[name]["puts"].append({**put, "baseline": baseline["rps"]})
    out = []
    for result in results.values():
        pairs = sorted(result.pop("pairs"), key=lambda p: p[0])
        _, result["health"], result["get50"] = pairs[len(pairs) // 2]
        result["ratios"] = [p[0] for p in pairs]
        result["puts"].sort(key=lambda p: p["p95"])
        result["put10"] = result["puts"][len(result["puts"]) // 2]
        cpu = sorted(p["cpu_ms"] for p in result["puts"])
        result["put_cpu_ms"] = cpu[len(cpu) // 2]
        get_cpu = sorted(result.pop("get_cpu"))
        result["get_cpu_ms"] = get_cpu[len(get_cpu) // 2]
        out.append(result)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="PUT latency runs (median)")
    beside = parser.add_mutually_exclusive_group()
    beside.add_argument("--before", metavar="REV", help="a git revision to measure beside")
    beside.add_argument(
        "--encryption", action="store_true", help="measure beside encryption at rest off"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    random.seed(1)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    before = f" --before {args.before}" if args.before else ""
    before += " --encryption" if args.encryption else ""
    print(
        f"command: python bench/flow_http.py --backend {args.backend} --seconds {args.seconds}"
        f" --repeat {args.repeat}{before}"
    )
    with ExitStack() as stack:
        trees = {"this tree": [ROOT / "src"]}
        if args.before:
            before_tree = stack.enter_context(checkout(args.before))
            trees = {args.before: [before_tree / "src"], **trees}
        if args.encryption:
            trees = {"encryption off": [PLAINTEXT, ROOT / "src"], "encryption on": [ROOT / "src"]}
        report(backends, args.seconds, args.repeat, trees)


def report(backends: list[str], seconds: int, repeat: int, trees: dict[str, list[Path]]) -> None:
    print(
        "| backend | server | /healthz req/s (c50) | GET flow req/s (c50) | GET/healthz | "
        "every GET/healthz | GET p50/p95/p99 ms (c10) | PUT req/s (c10) | "
        "PUT p50/p95/p99 ms (c10, median run) | every PUT run: p95 ms (/healthz req/s just "
        "before) | server CPU ms per GET (c50, median) | server CPU ms per PUT (median) | "
        "errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ratios_of: list[str] = []
    for backend in backends:
        rows = run(backend, seconds, repeat, trees)
        if len(rows) == 2:
            ratios_of.append(_ratios(backend, rows[0], rows[1]))
        for r in rows:
            h, g, g10, p = r["health"], r["get50"], r["get10"], r["put10"]
            errors = sum(x["errors"] + x["non2xx"] for x in (h, g, g10, *r["puts"]))
            runs = ", ".join(f"{x['p95']:.1f} ({x['baseline']:.0f})" for x in r["puts"])
            ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
            print(
                f"| {backend} | {r['tree']} | {h['rps']:.0f} | {g['rps']:.0f} | "
                f"{g['rps'] / h['rps']:.2f} | {ratios} | "
                f"{g10['p50']:.2f} / {g10['p95']:.2f} / {g10['p99']:.2f} | {p['rps']:.0f} | "
                f"{p['p50']:.2f} / {p['p95']:.2f} / {p['p99']:.2f} | {runs} | "
                f"{r['get_cpu_ms']:.3f} | {r['put_cpu_ms']:.2f} | {errors} |",
                flush=True,
            )
    for line in ratios_of:
        print(line)


def _ratios(backend: str, first: dict[str, Any], second: dict[str, Any]) -> str:
    """The second server's figures over the first's (> 1: the second costs more)."""

    def get_ratio(r: dict[str, Any]) -> float:
        return float(r["get50"]["rps"] / r["health"]["rps"])

    return (
        f"{backend}: {second['tree']} / {first['tree']}: GET/healthz "
        f"{get_ratio(second) / get_ratio(first):.3f} (1 = as fast), GET p95 (c10) "
        f"{second['get10']['p95'] / first['get10']['p95']:.3f}, PUT p95 (c10, median run) "
        f"{second['put10']['p95'] / first['put10']['p95']:.3f}, server CPU per GET "
        f"{second['get_cpu_ms'] / first['get_cpu_ms']:.3f}, server CPU per PUT "
        f"{second['put_cpu_ms'] / first['put_cpu_ms']:.3f}"
    )


if __name__ == "__main__":
    main()
