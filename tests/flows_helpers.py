"""Helpers for flow tests: React Flow nodes and edges, an org with an admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers import User, create_org, signup


def node(
    node_id: str, x: float = 0, y: float = 0, type_: str = "default", **extra: Any
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": type_,
        "position": {"x": x, "y": y},
        "data": {"label": node_id},
        **extra,
    }


def edge(source: str, target: str, edge_id: str | None = None) -> dict[str, Any]:
    return {"id": edge_id or f"e-{source}-{target}", "source": source, "target": target}


@dataclass
class Org:
    id: str
    admin: User
    client: httpx.AsyncClient

    @property
    def flows_url(self) -> str:
        return f"/v1/orgs/{self.id}/flows"

    async def create_flow(
        self,
        name: str = "Flow",
        nodes: list[Any] | None = None,
        edges: list[Any] | None = None,
        user: User | None = None,
    ) -> dict[str, Any]:
        response = await self.client.post(
            self.flows_url,
            json={"name": name, "nodes": nodes or [], "edges": edges or []},
            headers=(user or self.admin).headers,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def patch_settings(self, **settings: Any) -> None:
        response = await self.client.patch(
            f"/v1/orgs/{self.id}", json={"settings": settings}, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text

    async def member(self, role: str) -> User:
        """A new user, invited with ``role`` and accepted."""
        user = await signup(self.client)
        invite = await self.client.post(
            f"/v1/orgs/{self.id}/invitations",
            headers=self.admin.headers,
            json={"email": user.email, "role": role},
        )
        accepted = await self.client.post(
            "/v1/invitations/accept", headers=user.headers, json={"token": invite.json()["token"]}
        )
        assert accepted.status_code == 200, accepted.text
        return user


async def new_org(client: httpx.AsyncClient, **fields: Any) -> Org:
    admin = await signup(client)
    org = await create_org(client, admin, **fields)
    return Org(id=org["id"], admin=admin, client=client)
