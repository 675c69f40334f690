"""Encryption at rest, the key hierarchy: per-org data keys wrapped by the master key,
nonces, values bound to their row and org, master key rotation (interrupted and resumed),
a wrong master key at start, and crypto-shredding."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import insert, select

from minibase.config import Settings
from minibase.crypto.envelope import new_nonce
from minibase.crypto.master_keys import key_file_path, key_id, read_key_file
from minibase.domain.principal import SYSTEM
from minibase.errors import StartupError, Undecryptable
from minibase.services import keys as key_service
from minibase.store.data_keys import Sealer
from minibase.store.database import Database
from minibase.store.tables import flows, org_data_keys
from minibase.store.unit_of_work import Store
from tests.helpers import insert_org
from tests.test_cli_operator import minibase

DOC = flows.c.document


async def _seal(store: Store, org_id: str, row_id: str, plain: bytes) -> bytes:
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        return (await uow.sealer()).seal(DOC, row_id, plain)


async def _open(store: Store, org_id: str, row_id: str, sealed: bytes) -> bytes:
    async with store.tenant(org_id, SYSTEM) as uow:
        return (await uow.sealer()).open(DOC, row_id, sealed)


async def _key_rows(store: Store) -> dict[str, str]:
    async with store.global_(SYSTEM) as uow:
        rows = await uow.execute(select(org_data_keys.c.owner_org, org_data_keys.c.master_key_id))
        return {r.owner_org: r.master_key_id for r in rows.all()}


def test_nonces_are_unique_over_a_million_encryptions() -> None:
    # The module's own nonce path (every seal and wrap draws from it).
    count = 1_000_000
    assert len({new_nonce() for _ in range(count)}) == count


async def test_data_key_is_made_wrapped_and_values_open_only_in_their_row(
    settings: Settings,
) -> None:
    database = Database(settings)
    try:
        store = Store(database)
        org_a, org_b = await insert_org(store), await insert_org(store)
        sealed = await _seal(store, org_a, "flow_1", b"the sentinel")
        assert b"sentinel" not in sealed
        path = key_file_path(settings)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        current = key_id(read_key_file(path)[0])
        assert (await _key_rows(store))[org_a] == current
        # A fresh process (no cached keys) unwraps and opens it.
        assert await _open(Store(database), org_a, "flow_1", sealed) == b"the sentinel"
        # Moved to another row, or to another org: a clear error, never garbage.
        with pytest.raises(Undecryptable, match="does not decrypt"):
            await _open(store, org_a, "flow_2", sealed)
        await _seal(store, org_b, "flow_1", b"other")
        with pytest.raises(Undecryptable, match="does not decrypt"):
            await _open(store, org_b, "flow_1", sealed)
        # Values written before encryption read as they are.
        assert await _open(store, org_a, "flow_1", b'{"plain": 1}') == b'{"plain": 1}'
    finally:
        await database.close()


async def test_rotate_master_interrupted_then_resumed(settings: Settings) -> None:
    database = Database(settings)
    try:
        store = Store(database)
        sealed = {}
        for n in range(5):
            org = await insert_org(store)
            sealed[org] = await _seal(store, org, "flow_1", f"value {n}".encode())
        old = read_key_file(key_file_path(settings))[0]
        # Stopped after two orgs (as a crash or Ctrl-C would): a new key, two re-wrapped.
        first = minibase(settings, "keys", "rotate-master", "--limit", "2")
        assert first.returncode == 0, first.stderr
        assert "3 left" in first.stdout
        keys_now = read_key_file(key_file_path(settings))
        assert len(keys_now) == 2 and keys_now[1] == old
        by_kid = list((await _key_rows(store)).values())
        assert by_kid.count(key_id(keys_now[0])) == 2 and by_kid.count(key_id(old)) == 3
        # Half-way, every org is readable (a fresh key ring reads both keys).
        for org, value in sealed.items():
            assert (await _open(Store(database), org, "flow_1", value)).startswith(b"value")
        # Resumed: no new key, the rest re-wrapped; the data was never touched.
        second = minibase(settings, "keys", "rotate-master", "--resume", "--json")
        assert second.returncode == 0, second.stderr
        assert '"remaining": 0' in second.stdout and '"newKeyId": null' in second.stdout
        assert set((await _key_rows(store)).values()) == {key_id(keys_now[0])}
        fresh = Store(database)
        for n, (org, value) in enumerate(sealed.items()):
            assert await _open(fresh, org, "flow_1", value) == f"value {n}".encode()
        # Once no data key is under the old master key, it can go from the key file.
        path = key_file_path(settings)
        path.write_text(path.read_text().splitlines()[0] + "\n")
        assert await _open(Store(database), org, "flow_1", value) == b"value 4"
    finally:
        await database.close()


async def test_rotation_with_env_keys_and_previous(settings: Settings, tmp_path: Path) -> None:
    old_text = base64.b64encode(secrets.token_bytes(32)).decode()
    new_text = base64.b64encode(secrets.token_bytes(32)).decode()
    old = settings.model_copy(update={"master_key": SecretStr(old_text)})
    database = Database(old)
    try:
        org = await insert_org(Store(database))
        value = await _seal(Store(database), org, "flow_1", b"kept")
    finally:
        await database.close()
    rotated = settings.model_copy(
        update={"master_key": SecretStr(new_text), "master_keys_previous": SecretStr(old_text)}
    )
    database = Database(rotated)
    try:
        store = Store(database)
        await key_service.check_keys(store)
        with pytest.raises(Exception, match="MINIBASE_MASTER_KEY"):
            key_service.new_master_key(store)
        report = await key_service.rewrap(store)
        assert (report.rewrapped, report.remaining) == (1, 0)
        only_new = Database(settings.model_copy(update={"master_key": SecretStr(new_text)}))
        try:
            assert await _open(Store(only_new), org, "flow_1", value) == b"kept"
        finally:
            await only_new.close()
    finally:
        await database.close()
    assert not key_file_path(settings).exists()  # an env key makes no key file


async def test_wrong_master_key_stops_the_server_before_it_listens(settings: Settings) -> None:
    database = Database(settings)
    try:
        org = await insert_org(Store(database))
        await _seal(Store(database), org, "flow_1", b"x")
        wrong = settings.model_copy(
            update={"master_key": SecretStr(base64.b64encode(secrets.token_bytes(32)).decode())}
        )
        wrong_db = Database(wrong)
        try:
            with pytest.raises(StartupError, match="does not match"):
                await key_service.check_keys(Store(wrong_db))
        finally:
            await wrong_db.close()
    finally:
        await database.close()
    with socket.socket() as probe:  # a port free now; the server stops before binding it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"MINIBASE_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    line = _refused(settings, "serve", "--port", str(port), env=env)
    assert "master key does not match" in line
    assert env["MINIBASE_MASTER_KEY"] not in line
    line = _refused(settings, "serve", "--port", str(port), env={"MINIBASE_MASTER_KEY": "nope"})
    assert "MINIBASE_MASTER_KEY is not base64" in line or "must be 32 bytes" in line


def _refused(settings: Settings, *args: str, env: dict[str, str]) -> str:
    """The one error line of a serve that stopped before listening (the migration's log
    lines come before it)."""
    result = minibase(settings, *args, env=env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Uvicorn running" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("minibase: error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


async def test_deleting_an_org_shreds_its_key_for_good(settings: Settings) -> None:
    from minibase.services import orgs
    from minibase.services.audit import NO_META

    database = Database(settings)
    try:
        store = Store(database)
        org = await insert_org(store)
        value = await _seal(store, org, "flow_1", b"secret")
        async with store.global_(SYSTEM) as uow:
            row = (
                await uow.execute(select(org_data_keys).where(org_data_keys.c.owner_org == org))
            ).one()
        await orgs.delete_org(store, org, SYSTEM, NO_META)
        assert org not in await _key_rows(store)
        shred_list = (Path(settings.data_dir) / "shredded-orgs").read_text().split()
        assert shred_list == [org]
        # An old backup brings the org and its wrapped key back: the key stays refused.
        await insert_org_with_id(store, org)
        async with store.global_(SYSTEM, write=True) as uow:
            await uow.execute(insert(org_data_keys).values(**row._mapping))
        with pytest.raises(Undecryptable, match="destroyed"):
            await _open(Store(database), org, "flow_1", value)
        # ... and a restore drops it from the database altogether.
        from minibase.store.backup import drop_shredded_keys

        assert await drop_shredded_keys(settings) == [org]
        assert org not in await _key_rows(store)
        with pytest.raises(Undecryptable, match="no data key"):
            await _open(Store(database), org, "flow_1", value)
    finally:
        await database.close()


async def insert_org_with_id(store: Store, org_id: str) -> None:
    from minibase.ids import now_ms
    from minibase.store.tables import organizations

    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        now = now_ms()
        await uow.execute(
            uow.insert(
                organizations,
                name=org_id,
                settings={},
                plan="free",
                nodes_used=0,
                flows_created=0,
                storage_used=0,
                created_at=now,
                updated_at=now,
            )
        )


def test_sealer_without_key_reads_plain_and_refuses_sealed() -> None:
    sealer = Sealer("org_x", None, sealing=False)
    assert sealer.seal(DOC, "r", b"plain") == b"plain"
    with pytest.raises(Undecryptable):
        sealer.open(DOC, "r", b"\xffMBe\x01" + os.urandom(40))
