"""Helpers for the working-together tests: members in roles, a mailbox to wait on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.helpers import User, signup

TIMEOUT = 5


async def add_member(client: httpx.AsyncClient, admin: User, org_id: str, role: str) -> User:
    """A new user who accepted an invitation to ``org_id`` as ``role``."""
    member = await signup(client)
    invitation = await client.post(
        f"/v1/orgs/{org_id}/invitations",
        json={"email": member.email, "role": role},
        headers=admin.headers,
    )
    assert invitation.status_code == 201, invitation.text
    accepted = await client.post(
        "/v1/invitations/accept",
        json={"token": invitation.json()["token"]},
        headers=member.headers,
    )
    assert accepted.status_code == 200, accepted.text
    return member


async def notifications_of(client: httpx.AsyncClient, user: User, **params: Any) -> list[Any]:
    response = await client.get("/v1/notifications", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


class _Messages(list[tuple[str, list[str], str]]):
    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def append(self, item: tuple[str, list[str], str]) -> None:
        super().append(item)
        self.changed.set()


@dataclass
class WaitingMailbox:
    """The SMTP test server's mailbox, with a way to wait for mail."""

    port: int = 0
    messages: _Messages = field(default_factory=_Messages)

    async def wait_for(self, count: int) -> list[tuple[str, list[str], str]]:
        async def until() -> None:
            while len(self.messages) < count:
                self.messages.changed.clear()
                await self.messages.changed.wait()

        await asyncio.wait_for(until(), TIMEOUT)
        return list(self.messages)
