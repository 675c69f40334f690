"""Who reaches ``/v1/admin``: MINIBASE_INSTANCE_ADMINS or a grant in ``instance_admins``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from minibase.domain.principal import SYSTEM
from minibase.store.tables import instance_admins
from tests.helpers import signup


async def test_a_granted_email_is_an_instance_admin(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    granted = await signup(client, "Granted@Example.com")
    other = await signup(client)
    assert (await client.get("/v1/admin/backups", headers=granted.headers)).status_code == 404
    async with app.state.ctx.store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            insert(instance_admins).values(
                email="granted@example.com", granted_by="test", granted_at=0
            )
        )
    answer = await client.get("/v1/admin/backups", headers=granted.headers)
    assert answer.status_code == 200 and answer.json()["items"] == []
    assert (await client.get("/v1/admin/backups", headers=other.headers)).status_code == 404
