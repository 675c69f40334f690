"""How big a long-lived flow's compacted Yjs state gets: many drags of one node.

    PYTHONPATH=src python bench/collab_compaction.py --drags 100000 --clients 10

``--clients`` editors (each its own Yjs client id) take turns dragging the same node of a
100-node flow (``nodes[n0].position = {x, y}``), each drag an update integrated by the
server's document as it would be from the socket. Compaction is what
``CollabStore.compact`` stores: the whole state as one update (``Doc.get_update()``).
Printed: the compacted size after every tenth of the drags, a zlib-compressed size for
comparison, and the size once rebased (``collab/rebase.py``: the same content without
its history, what a room that unloads stores when that at least halves the state; the
issue's bound: under 64 KB after 100,000 drags by 10 clients). Each editor catches up
with the server just before its own drag (one diff), as an editor whose socket
delivered the others' drags would be.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from pycrdt import Doc, Map

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import flow_body

from minibase.collab.flow_doc import FlowDoc
from minibase.collab.rebase import rebase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drags", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    server = FlowDoc()
    server.apply_flow(flow_body(100), origin="seed")
    seeded = len(server.doc.get_update())
    clients: list[Doc[Any]] = []
    for _ in range(args.clients):
        doc: Doc[Any] = Doc()
        doc.apply_update(server.doc.get_update())
        clients.append(doc)
    print(f"command: python bench/collab_compaction.py {' '.join(sys.argv[1:])}")
    print(f"seeded 100-node flow: {seeded:,} bytes\n")
    print("| drags | compacted state | zlib of it | growth per 10,000 drags | rebased |")
    print("|---|---|---|---|---|")
    started = time.perf_counter()
    step = max(1, args.drags // 10)
    for i in range(args.drags):
        doc = clients[i % args.clients]
        # It has seen the others' drags (it drags next from the current state).
        doc.apply_update(server.doc.get_update(doc.get_state()))
        before = doc.get_state()
        doc.get("nodes", type=Map)["n0"]["position"] = {"x": i, "y": i % 7}
        server.doc.apply_update(doc.get_update(before))
        if (i + 1) % step == 0:
            state = server.doc.get_update()
            growth = (len(state) - seeded) * 10_000 / (i + 1)
            print(
                f"| {i + 1:,} | {len(state):,} B | {len(zlib.compress(state, 9)):,} B "
                f"| {growth:,.0f} B | {len(rebase(state)):,} B |",
                flush=True,
            )
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
