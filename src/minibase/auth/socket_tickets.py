"""Single-use socket tickets: ``?ticket=`` instead of a long-lived token in a socket's URL.

A browser cannot set headers on a WebSocket, so sockets take their credential in the
query string, which proxies and servers tend to log. ``POST /v1/socket-tickets`` trades
the caller's token for a ticket that works once, within :data:`TICKET_TTL_MS`; the socket
then lives as long as the token behind it (it is re-validated like any socket's token).

A ticket is stored only as its SHA-256, next to the caller's token sealed with a key
derived from the ticket (SHAKE-256 of the ticket, as long as the token, XORed with it):
the table alone reveals no token, and the row is deleted when the ticket is used.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, insert

from minibase.domain.principal import SYSTEM
from minibase.errors import Unauthenticated
from minibase.ids import hash_token, new_token, now_ms
from minibase.store.tables import socket_tickets
from minibase.store.unit_of_work import Store

TICKET_PREFIX = "mb_tkt_"
TICKET_TTL_MS = 30_000


def _keystream(ticket: str, length: int) -> bytes:
    return hashlib.shake_256(b"minibase-socket-ticket\x00" + ticket.encode("utf-8")).digest(length)


def _seal(ticket: str, token: str) -> bytes:
    data = token.encode("utf-8")
    return bytes(a ^ b for a, b in zip(data, _keystream(ticket, len(data)), strict=True))


def _unseal(ticket: str, sealed: bytes) -> str:
    return bytes(
        a ^ b for a, b in zip(sealed, _keystream(ticket, len(sealed)), strict=True)
    ).decode("utf-8")


async def issue_ticket(store: Store, token: str) -> tuple[str, int]:
    """A new ticket for ``token`` (already authenticated by the caller) and its expiry."""
    ticket = new_token(TICKET_PREFIX)
    now = now_ms()
    expires_at = now + TICKET_TTL_MS
    async with store.global_(SYSTEM, write=True) as uow:
        # Tickets nobody used are swept here: the table stays as small as the last 30 s.
        await uow.execute(delete(socket_tickets).where(socket_tickets.c.expires_at <= now))
        await uow.execute(
            insert(socket_tickets).values(
                ticket_hash=hash_token(ticket),
                sealed_token=_seal(ticket, token),
                created_at=now,
                expires_at=expires_at,
            )
        )
    return ticket, expires_at


async def redeem_ticket(store: Store, ticket: str) -> str:
    """The token behind ``ticket``, which stops working at once; 401 when unknown,
    used or expired."""
    async with store.global_(SYSTEM, write=True) as uow:
        row = (
            await uow.execute(
                delete(socket_tickets)
                .where(socket_tickets.c.ticket_hash == hash_token(ticket))
                .returning(socket_tickets.c.sealed_token, socket_tickets.c.expires_at)
            )
        ).first()
    if row is None or row.expires_at <= now_ms():
        raise Unauthenticated("The socket ticket is unknown, used or expired.")
    return _unseal(ticket, bytes(row.sealed_token))


async def socket_token(store: Store, token: str, ticket: str) -> str:
    """The token a socket authenticates with: ``?ticket=`` redeemed, else ``?token=``."""
    if ticket:
        return await redeem_ticket(store, ticket)
    return token
