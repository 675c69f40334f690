"""How many bytes version history takes: a 100-node flow and 1,000 single-node moves.

Run:  PYTHONPATH=src python bench/history_size.py [--moves N] [--nodes N] [--seed S]

Prints the stored size of every scheme in one table (see docs/history.md).
"""

from __future__ import annotations

import argparse
import random
import time
import zlib
from typing import Any

import orjson

from minibase.domain.history import SNAPSHOT_EVERY, ZLIB_LEVEL, encode_version, rebuild


def make_flow(nodes: int, rng: random.Random) -> dict[str, Any]:
    """A plausible editor flow: typed nodes with labels and settings, a chain of edges."""
    kinds = ["llm", "http", "transform", "condition", "output"]
    flow_nodes = [
        {
            "id": f"node-{i}",
            "type": kinds[i % len(kinds)],
            "position": {"x": round(rng.uniform(0, 2000), 2), "y": round(rng.uniform(0, 1200), 2)},
            "data": {
                "label": f"Step {i}",
                "model": "gpt-4o-mini" if i % 5 == 0 else None,
                "prompt": f"Summarize the input of step {i} in three sentences.",
                "retries": i % 3,
            },
            "width": 180,
            "height": 64,
        }
        for i in range(nodes)
    ]
    flow_edges = [
        {
            "id": f"e{i}-{i + 1}",
            "source": f"node-{i}",
            "target": f"node-{i + 1}",
            "type": "smoothstep",
        }
        for i in range(nodes - 1)
    ]
    return {"name": "Benchmark flow", "nodes": flow_nodes, "edges": flow_edges}


def moves(doc: dict[str, Any], count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` successive versions, each moving one random node (as a drag-end would)."""
    versions = [doc]
    for _ in range(count):
        prev = versions[-1]
        index = rng.randrange(len(prev["nodes"]))
        moved = dict(prev["nodes"][index])
        moved["position"] = {
            "x": round(rng.uniform(0, 2000), 2),
            "y": round(rng.uniform(0, 1200), 2),
        }
        nodes = list(prev["nodes"])
        nodes[index] = moved
        versions.append({**prev, "nodes": nodes})
    return versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    docs = moves(make_flow(args.nodes, rng), args.moves, rng)
    raw = [orjson.dumps(d) for d in docs]
    print(
        f"PYTHONPATH=src python bench/history_size.py --nodes {args.nodes} --moves {args.moves}"
        f" --seed {args.seed}"
    )
    print(
        f"{len(docs)} versions; one version as JSON: {len(raw[0]):,} bytes, "
        f"zlib level {ZLIB_LEVEL}: {len(zlib.compress(raw[0], ZLIB_LEVEL)):,} bytes\n"
    )
    rows = [("every version whole, plain JSON", sum(map(len, raw)), None)]
    rows.append(
        ("every version whole, zlib", sum(len(zlib.compress(r, ZLIB_LEVEL)) for r in raw), None)
    )
    for every in sorted({1, 10, SNAPSHOT_EVERY, 50, 100}):
        entries = []
        prev = None
        for version, doc in enumerate(docs, start=1):
            entries.append(encode_version(prev, doc, version, every=every))
            prev = doc
        deltas = [len(p) for k, p in entries if k == "delta"]
        snaps = [len(p) for k, p in entries if k == "snapshot"]
        # worst read: the version just before a snapshot, every - 1 deltas to replay
        worst = min(len(entries), every)
        started = time.perf_counter()
        for _ in range(20):
            assert rebuild(entries[:worst]) == docs[worst - 1]
        read_ms = (time.perf_counter() - started) / 20 * 1000
        label = f"snapshot every {every}" + (" (default)" if every == SNAPSHOT_EVERY else "")
        note = (
            f"{len(snaps)} snapshots, {len(deltas)} deltas of "
            f"{(sum(deltas) / len(deltas) if deltas else 0):.0f} B avg; worst read {read_ms:.2f} ms"
        )
        rows.append((label, sum(len(p) for _, p in entries), note))
    width = max(len(r[0]) for r in rows)
    for label, total, note in rows:
        print(f"{label:<{width}}  {total:>11,} B  {note or ''}")


if __name__ == "__main__":
    main()
