"""The room's cached flow equals its document read afresh, whatever the interleaving.

Several replicas edit concurrently (nodes and edges added, deleted, moved, retargeted,
node types the rules remove); the server integrates their updates in random batches,
each client's in its order or shuffled, runs the rules between and after, and sends its
own transactions back late. After every batch the incremental cache must equal a fresh
read.

Out of a client's order (its edit ahead of what its previous socket lost) yrs reports
some changes with no key (``test_flow_doc.py`` holds the deletions the cache catches) and
misses others, so the room holds such an update back until it follows
(:mod:`minibase.collab.held_updates`); the shuffled runs go through that hold as the room
does. Without it, shuffled seeds 2397, 2403, 3568 and 3945 miss a change (12 in 4,000; with it,
none in 4,000).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from pycrdt import Doc, Map

from minibase.collab.flow_doc import FlowDoc
from minibase.collab.held_updates import HeldUpdates, Order, is_single_client
from minibase.collab.rules import enforce
from minibase.domain.collab import Limits
from tests.collab.fakes import canon

LIMITS = Limits(max_nodes=8, allowed_node_types=frozenset({"default", "llm"}))


class Replica:
    def __init__(self, state: bytes, client_id: int) -> None:
        self.doc: Doc[Any] = Doc(client_id=client_id)
        self.doc.apply_update(state)
        self.sent: list[bytes] = []
        self.inbox: list[bytes] = []
        self.doc.observe(lambda event: self.sent.append(event.update))

    def edit(self, rng: random.Random, me: int, step: int) -> None:
        nodes = self.doc.get("nodes", type=Map)
        edges = self.doc.get("edges", type=Map)
        node_ids, edge_ids = sorted(nodes.keys()), sorted(edges.keys())  # yrs: any order
        op = rng.choice(["add", "add", "delete", "edge", "edge", "unedge", "move", "retarget"])
        with self.doc.transaction():
            if op == "add" or not node_ids:
                nid = f"n{me}-{step}"
                kind = rng.choice(["default", "llm", "shell"])
                nodes[nid] = Map(
                    {"id": nid, "type": kind, "position": {"x": 1, "y": 2}, "data": Map({})}
                )
            elif op == "delete":
                del nodes[rng.choice(node_ids)]
            elif op == "edge":
                eid = f"e{me}-{step}"
                target = rng.choice([*node_ids, "ghost"])
                edges[eid] = {"id": eid, "source": rng.choice(node_ids), "target": target}
            elif op == "unedge" and edge_ids:
                del edges[rng.choice(edge_ids)]
            elif op == "move":
                entry = nodes[rng.choice(node_ids)]
                if isinstance(entry, Map):
                    entry["position"] = {"x": rng.randint(0, 9), "y": 0}
            elif op == "retarget" and edge_ids:
                entry = edges[rng.choice(edge_ids)]
                if isinstance(entry, Map):
                    entry["target"] = rng.choice([*node_ids, "ghost"])


class Server:
    """The room's path for an editor's update: held while it is ahead, then integrated."""

    def __init__(self, hold: bool, client_id: int) -> None:
        self.flow = FlowDoc(Doc(client_id=client_id))
        self.sent: list[bytes] = []
        self.flow.doc.observe(lambda event: self.sent.append(event.update))
        self.hold = hold
        self.held: HeldUpdates[int] = HeldUpdates(
            self.flow.doc,
            lambda _author, update: self.flow.doc.apply_update(update),
            max_updates=10_000,
            max_bytes=1 << 30,
            max_per_author=10_000,
        )

    def receive(self, author: int, update: bytes) -> None:
        if self.hold:
            order = self.held.admit(author, update)
            if order is None:
                return
            assert not (order is Order.AHEAD and is_single_client(update))  # never over bounds
        self.flow.doc.apply_update(update)
        self.held.release()


def run(seed: int, shuffled: bool, hold: bool = True) -> str | None:
    """One random run; the first step whose cache differs from a fresh read, or None."""
    rng = random.Random(seed)
    # Client ids from the seed too: YATA orders concurrent items by them.
    server = Server(hold, rng.randrange(2**32))
    replicas = [Replica(server.flow.doc.get_update(), rng.randrange(2**32)) for _ in range(4)]
    waiting: list[list[bytes]] = [[] for _ in replicas]
    for step in range(40):
        for me, replica in enumerate(replicas):
            late = rng.randint(0, len(replica.inbox))
            for update in replica.inbox[:late]:
                replica.doc.apply_update(update)
            del replica.inbox[:late]
            replica.sent.clear()
            replica.edit(rng, me, step)
            waiting[me] += replica.sent
        # Some of what waits reaches the server, the replicas interleaved, each in its
        # order, or (shuffled) in any order.
        picked: list[list[bytes]] = []
        for queue in waiting:
            taken = rng.randint(0, len(queue))
            picked.append(queue[:taken])
            del queue[:taken]
            if shuffled:
                rng.shuffle(picked[-1])
        batch: list[tuple[int, bytes]] = []
        while any(picked):
            author = rng.choice([i for i, p in enumerate(picked) if p])
            batch.append((author, picked[author].pop(0)))
        for author, update in batch:
            server.receive(author, update)
            if rng.random() < 0.3:
                enforce(server.flow, LIMITS)
        enforce(server.flow, LIMITS)
        fresh = FlowDoc.from_update(server.flow.doc.get_update()).materialize()
        if canon(server.flow.materialize()) != canon(fresh):
            return f"step {step}"
        for replica in replicas:
            replica.inbox += server.sent
        server.sent.clear()
    return None


MISSED_WITHOUT_THE_HOLD = (2397, 2403, 3568, 3945)


@pytest.mark.parametrize("shuffled", [False, True], ids=["each-in-order", "shuffled"])
@pytest.mark.parametrize("seed", [*range(16), *MISSED_WITHOUT_THE_HOLD])
def test_the_cache_equals_a_fresh_read_after_any_interleaving(seed: int, shuffled: bool) -> None:
    assert run(seed, shuffled) is None


@pytest.mark.parametrize("seed", MISSED_WITHOUT_THE_HOLD)
def test_without_the_hold_those_shuffled_runs_miss_a_change(seed: int) -> None:
    """The seeds above reach yrs's miss: if this fails, yrs no longer misreports (a
    pycrdt upgrade) and the hold may be worth measuring again, or the seeds moved."""
    assert run(seed, shuffled=True, hold=False) is not None
