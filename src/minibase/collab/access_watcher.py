"""Live authorization of collab sockets, as the live-query hub has for ``/v1/sync``."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from minibase.collab.endpoint import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from minibase.collab.rooms import RoomManager
from minibase.domain.events import Event, EventKind
from minibase.errors import Forbidden, NotFound
from minibase.logs import detached
from minibase.services.collab_bridge import collab_seat
from minibase.services.orgs import role_in
from minibase.store.unit_of_work import Store


class CollabAccessWatcher:
    """Follows the bus and re-checks who may stay in which room.

    A ``credentials`` event (logout, key revoked, password changed) closes that token's
    sockets with 4401 at once. ``members`` and ``org`` events re-check the role of every
    socket of that org's rooms: a removed member is closed with 4404, a demoted editor
    keeps watching from a read-only seat, a promoted viewer may edit. A ``resync`` from
    the bus re-checks every socket.
    """

    def __init__(self, rooms: RoomManager, store: Store) -> None:
        self.manager = rooms
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_event(self, event: Event) -> None:
        if event.kind == EventKind.CREDENTIALS:
            revoked = set(event.ids)
            for room in self.manager.rooms():
                for client in list(room.clients):
                    if client.access.principal.credential_id in revoked:
                        client.close_soon(CLOSE_UNAUTHENTICATED, "token revoked")
        elif event.kind in (EventKind.MEMBERS, EventKind.ORG, EventKind.RESYNC):
            org = None if event.kind == EventKind.RESYNC else event.org_id
            # Role look-ups touch the database: not inside the bus's delivery loop.
            task = asyncio.create_task(
                self._recheck(org), name="collab-reauthorize", context=detached()
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _recheck(self, org_id: str | None) -> None:
        for room in self.manager.rooms():
            if org_id is not None and room.org_id != org_id:
                continue
            for client in list(room.clients):
                try:
                    role = await role_in(self.store, room.org_id, client.access.principal)
                except NotFound:
                    client.close_soon(CLOSE_NOT_FOUND, "no longer a member")
                    continue
                try:
                    seat = collab_seat(role)
                except Forbidden as denied:
                    client.close_soon(CLOSE_FORBIDDEN, denied.message)
                    continue
                if seat != client.access.role:
                    client.access = replace(client.access, role=seat)
