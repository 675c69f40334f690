"""The Python SDK against raw httpx on the same server, and live-query latency through it.

Overhead: ``Client.get_flow`` of a 100-node flow against ``httpx.Client.get`` of the
same URL with the same headers, its JSON parsed (``.json()``), and ``Client.patch_flow``
(a rename) against a raw PATCH that also sends an ``Idempotency-Key`` (so the server does
the same work). Both run on one server, alternating in slices of ``--calls`` requests,
``--slices`` times; the figure is the median over slices of the SDK's mean time per call
divided by raw httpx's. A third row times the client side alone: the same GET answered
by an in-process mock transport.

Subscription latency: a sync ``Client.subscribe("flows.get", ...)``; each sample renames
the flow over REST (raw httpx) and times from sending the PATCH to the SDK yielding the
new value; the PATCH's own round trip is reported beside it.

    PYTHONPATH=src python bench/sdk_overhead.py [--backend sqlite|postgres] [--slices 15]
        [--calls 100] [--samples 200]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import flow_body, running_server

from minibase.client import Client


def timed(fn: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--slices", type=int, default=15)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    options = parser.parse_args()

    with running_server(options.backend) as server:
        sdk = Client(server.base_url)
        sdk.signup(f"bench-{secrets.token_hex(4)}@example.com", "benchmark-password")
        org_id = sdk.create_org("bench")["id"]
        body = flow_body(100)
        flow_id = sdk.create_flow(org_id, "bench", body["nodes"], body["edges"])["id"]
        headers = {"Authorization": f"Bearer {sdk.token}", "Accept": "application/json"}
        raw = httpx.Client(base_url=server.base_url, timeout=30)
        url = f"/v1/orgs/{org_id}/flows/{flow_id}"

        def raw_get() -> None:
            raw.get(url, headers=headers).raise_for_status().json()

        def sdk_get() -> None:
            sdk.get_flow(org_id, flow_id)

        def raw_patch() -> None:
            key = {"Idempotency-Key": secrets.token_urlsafe(18)}
            ops = {"ops": [{"op": "rename", "name": secrets.token_hex(4)}]}
            raw.patch(url, json=ops, headers={**headers, **key}).raise_for_status().json()

        def sdk_patch() -> None:
            sdk.patch_flow(org_id, flow_id, [{"op": "rename", "name": secrets.token_hex(4)}])

        rows = []
        for name, raw_fn, sdk_fn, calls in (
            ("GET flow (100 nodes)", raw_get, sdk_get, options.calls),
            ("PATCH flow (rename)", raw_patch, sdk_patch, max(10, options.calls // 4)),
        ):
            timed(raw_fn, 10), timed(sdk_fn, 10)  # warm both
            raws, sdks, ratios = [], [], []
            for _ in range(options.slices):
                r, s = timed(raw_fn, calls), timed(sdk_fn, calls)
                raws.append(r), sdks.append(s), ratios.append(s / r)
            rows.append(
                f"| {name} | {statistics.median(raws) * 1000:.2f} ms "
                f"| {statistics.median(sdks) * 1000:.2f} ms "
                f"| {statistics.median(ratios):.3f} |"
            )

        # The client side alone: the same flow answered by an in-process mock transport.
        stored = raw.get(url, headers=headers).content
        mock = httpx.MockTransport(
            lambda _: httpx.Response(
                200, content=stored, headers={"content-type": "application/json"}
            )
        )
        mock_sdk = Client(server.base_url, token=sdk.token, transport=mock)
        mock_raw = httpx.Client(base_url=server.base_url, transport=mock)
        raws, sdks, ratios = [], [], []
        for _ in range(options.slices):
            r = timed(lambda: mock_raw.get(url, headers=headers).json(), options.calls * 5)
            s = timed(lambda: mock_sdk.get_flow(org_id, flow_id), options.calls * 5)
            raws.append(r), sdks.append(s), ratios.append(s / r)
        rows.append(
            "| GET flow, client CPU only (mock transport) "
            f"| {statistics.median(raws) * 1e6:.0f} µs "
            f"| {statistics.median(sdks) * 1e6:.0f} µs | {statistics.median(ratios):.3f} |"
        )
        mock_sdk.close(), mock_raw.close()

        latencies, round_trips = [], []
        with sdk.subscribe("flows.get", orgId=org_id, flowId=flow_id) as live:
            live.next(10)
            for _ in range(options.samples):
                start = time.perf_counter()
                raw_patch()
                answered = time.perf_counter()
                live.next(10)
                done = time.perf_counter()
                latencies.append(done - start)
                round_trips.append(answered - start)
        sdk.close()
        raw.close()

    print(f"backend: {options.backend}")
    print("| call | raw httpx | SDK | SDK / raw (median of slices) |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| live query | p50 | p95 | p99 | PATCH round trip p50 |")
    print("|---|---|---|---|---|")
    print(
        f"| REST rename → `flows.get` value in the sync SDK | "
        f"{percentile(latencies, 0.5) * 1000:.1f} ms | {percentile(latencies, 0.95) * 1000:.1f} ms "
        f"| {percentile(latencies, 0.99) * 1000:.1f} ms "
        f"| {percentile(round_trips, 0.5) * 1000:.1f} ms |"
    )


if __name__ == "__main__":
    main()
