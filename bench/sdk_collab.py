"""Collaborative editing through the SDK: how long an edit takes to be stored, and to
reach another session, against a REST write of the same change.

On one server and one 100-node flow, alternating sample by sample:

- ``collab store``: a sync ``Client.collab`` session moves a node (``move_node``) and
  waits for the server's echo (``flush``): the edit is durable;
- ``collab → peer``: the same move, timed until a second session (another client) holds
  the new position (``wait_for``);
- ``REST PATCH``: ``Client.patch_flow`` with an ``updateNode`` of the position (a new
  version each time).

    PYTHONPATH=src python bench/sdk_collab.py [--backend sqlite|postgres] [--samples 200]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import flow_body, running_server

from minibase.client import Client


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--samples", type=int, default=200)
    options = parser.parse_args()

    with running_server(options.backend) as server:
        ada = Client(server.base_url)
        ada.signup(f"bench-{secrets.token_hex(4)}@example.com", "benchmark-password")
        org_id = ada.create_org("bench")["id"]
        body = flow_body(100)
        flow_id = ada.create_flow(org_id, "bench", body["nodes"], body["edges"])["id"]
        bob = Client(server.base_url, token=ada.token)
        stored: list[float] = []
        peer: list[float] = []
        rest: list[float] = []
        with ada.collab(org_id, flow_id) as mine, bob.collab(org_id, flow_id) as theirs:
            for i in range(options.samples):
                start = time.perf_counter()
                mine.move_node("n1", i, i)
                mine.flush(30)
                stored.append(time.perf_counter() - start)

                x = options.samples + i
                start = time.perf_counter()
                mine.move_node("n2", x, x)
                theirs.wait_for(
                    lambda f, x=x: any(
                        n["id"] == "n2" and n["position"]["x"] == x for n in f["nodes"]
                    ),
                    timeout=30,
                )
                peer.append(time.perf_counter() - start)

                start = time.perf_counter()
                ops = [{"op": "updateNode", "id": "n3", "set": {"position": {"x": i, "y": i}}}]
                ada.patch_flow(org_id, flow_id, ops)
                rest.append(time.perf_counter() - start)
        ada.close()
        bob.close()

    print(f"backend: {options.backend}, {options.samples} samples")
    print("| path | p50 | p95 | p99 | p50 / REST PATCH p50 |")
    print("|---|---|---|---|---|")
    base = percentile(rest, 0.5)
    for name, values in (
        ("collab: move_node → stored (flush)", stored),
        ("collab: move_node → the other session holds it", peer),
        ("REST: patch_flow updateNode (a new version)", rest),
    ):
        print(
            f"| {name} | {percentile(values, 0.5) * 1000:.1f} ms "
            f"| {percentile(values, 0.95) * 1000:.1f} ms "
            f"| {percentile(values, 0.99) * 1000:.1f} ms "
            f"| {percentile(values, 0.5) / base:.2f} |"
        )


if __name__ == "__main__":
    main()
