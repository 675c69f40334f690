"""What a Yjs client sends for an edit: the update of that edit's own transaction.

A Yjs provider (y-websocket, Hocuspocus's) sends what ``doc.on('update')`` hands it:
the structs the transaction added and the deletions IT made. A diff from the state
vector before the edit (``doc.get_update(before)``) is not the same thing: it carries
the document's whole delete set, one range per client that ever deleted anything, so
it grows with the document's history (2.7 KB after 250 editors instead of 43 bytes),
and a benchmark that sends it measures how fast a server walks that delete set, not
what real editors cost it.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, TransactionEvent


class EditUpdates:
    """Collects the updates of ``doc``'s transactions, as a Yjs provider would send them."""

    def __init__(self, doc: Doc[Any]) -> None:
        self._updates: list[bytes] = []
        doc.observe(self._on_transaction)

    def _on_transaction(self, event: TransactionEvent) -> None:
        self._updates.append(event.update)

    def take(self) -> bytes:
        """The update of the edit made since the last call (one transaction: itself)."""
        updates, self._updates = self._updates, []
        if len(updates) != 1:
            raise RuntimeError(f"expected one transaction since the last take, got {len(updates)}")
        return updates[0]
