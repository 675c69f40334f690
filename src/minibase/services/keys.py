"""Operator use cases of the key hierarchy: the start-up check, master key rotation, status.

Rotation re-wraps data keys and touches no data: each org's key is re-wrapped in its own
transaction, with the id of the master key that now wraps it, so a rotation stopped at any
point leaves every org readable (its key under the old or the new master key, both held)
and running it again finishes the rest.
"""

from __future__ import annotations

from pathlib import Path

from minibase.crypto.master_keys import add_key_to_file, key_file_path
from minibase.domain.principal import SYSTEM
from minibase.errors import Conflict
from minibase.store.data_keys import (
    RewrapReport,
    check_master_keys,
    key_ids_in_use,
    orgs_to_rewrap,
    rewrap_one,
)
from minibase.store.unit_of_work import Store


async def check_keys(store: Store) -> None:
    """Refuse to start (``StartupError``) when the master keys do not fit the database."""
    async with store.global_(SYSTEM) as uow:
        await check_master_keys(uow, store.keys)


async def key_status(store: Store) -> dict[str, object]:
    """The current master key id and how many orgs' data keys each key id wraps."""
    async with store.global_(SYSTEM) as uow:
        in_use = await key_ids_in_use(uow)
    masters = store.keys.masters
    return {
        "currentKeyId": masters.current_id,
        "heldKeyIds": masters.ids(),
        "dataKeysByMasterKey": in_use,
        "source": masters.source,
    }


def new_master_key(store: Store) -> str:
    """Put a fresh master key first in the key file (the old ones stay, readable); its id.

    With ``MINIBASE_MASTER_KEY`` the operator makes the new key: set it there and the old
    one in ``MINIBASE_MASTER_KEYS_PREVIOUS``, then re-wrap."""
    settings = store.database.settings
    if settings.master_key.get_secret_value():
        raise Conflict(
            "The master key comes from MINIBASE_MASTER_KEY: put the new key there and the "
            "old one in MINIBASE_MASTER_KEYS_PREVIOUS, then run `minibase keys rotate-master "
            "--resume` (see docs/security.md)."
        )
    path: Path = key_file_path(settings)
    store.keys.masters  # noqa: B018 - read (or make) the key file before adding to it
    kid = add_key_to_file(path)
    store.keys.reload()
    return kid


async def rewrap(store: Store, *, limit: int | None = None) -> RewrapReport:
    """Re-wrap every data key not yet under the current master key (at most ``limit``),
    one org per transaction."""
    current = store.keys.masters.current_id
    async with store.global_(SYSTEM) as uow:
        pending = await orgs_to_rewrap(uow, current)
    done = 0
    for org_id in pending:
        if limit is not None and done >= limit:
            break
        async with store.global_(SYSTEM, write=True) as uow:
            if await rewrap_one(uow, store.keys, org_id):
                done += 1
    async with store.global_(SYSTEM) as uow:
        remaining = len(await orgs_to_rewrap(uow, current))
    return RewrapReport(current, done, remaining)
