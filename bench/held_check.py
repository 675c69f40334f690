"""What the room's check of a socket's first updates costs (``collab/held_updates.py``).

Run:  PYTHONPATH=src python bench/held_check.py [--clients 1,50,1000] [--rounds 300]

For a flow document written by N clients (each added one node), times in-process, warm:

- ``order_of``: where an editor's drag that is ahead stands (the check a socket's update
  gets until one of its updates follows);
- the probe's state two ways, in the same invocation: spliced from the encoded state
  vector (``rebase.collected_state``, what ``order_of`` uses) and decoded then encoded in
  Python (``rebase.collected(state_vector(doc))``), with their ratio.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pycrdt import Doc, Map

from minibase.collab.held_updates import Order, order_of
from minibase.collab.rebase import collected, collected_state, state_vector


def document(clients: int, rng: random.Random) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    for i in range(clients):
        writer: Doc[Any] = Doc(client_id=rng.randrange(1, 2**53))
        writer.apply_update(doc.get_update())
        writer.get("nodes", type=Map)[f"n{i}"] = Map({"id": f"n{i}", "position": {"x": i}})
        doc.apply_update(writer.get_update(doc.get_state()))
    return doc


def ahead_drag(doc: Doc[Any]) -> bytes:
    """A new editor's second transaction (its first, adding the node, not sent)."""
    editor: Doc[Any] = Doc()
    editor.apply_update(doc.get_update())
    updates: list[bytes] = []
    editor.observe(lambda event: updates.append(event.update))
    nodes = editor.get("nodes", type=Map)
    nodes["dragged"] = Map({"id": "dragged", "position": {"x": 0}})
    nodes["dragged"]["position"] = {"x": 1}
    return updates[1]


def per_call_us(call: Callable[[], object], rounds: int) -> float:
    """Median of five batches of ``rounds`` calls, in µs per call."""
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            call()
        batches.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(batches)


def measure(clients: int, rng: random.Random, rounds: int) -> tuple[float, float, float]:
    """µs per call: ``order_of``, the probe's state spliced, and decoded + encoded."""
    doc = document(clients, rng)
    drag = ahead_drag(doc)
    assert order_of(doc, drag) is Order.AHEAD
    state = doc.get_state()
    return (
        per_call_us(lambda: order_of(doc, drag), rounds),
        per_call_us(lambda: collected_state(state), rounds),
        per_call_us(lambda: collected(state_vector(doc)), rounds),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,50,1000")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(1)
    print("| clients (state vector) | order_of | probe state spliced | decoded + encoded | ratio |")
    print("|---|---|---|---|---|")
    for clients in (int(c) for c in args.clients.split(",")):
        check, spliced, decoded = measure(clients, rng, args.rounds)
        print(
            f"| {clients:,} | {check:,.0f} µs | {spliced:,.1f} µs | {decoded:,.1f} µs "
            f"| {decoded / spliced:.1f} x |"
        )
    print()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"reproduce: PYTHONPATH=src python bench/held_check.py --clients {args.clients} "
        f"--rounds {args.rounds}"
    )


if __name__ == "__main__":
    main()
