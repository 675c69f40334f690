"""Per-org data keys at rest: made, unwrapped, cached, re-wrapped and destroyed here.

The key hierarchy (docs/security.md): the master key (``crypto/master_keys.py``) wraps
one random data key per org (``org_data_keys``), and the data key seals the org's values
(:class:`Sealer`, the one entry point the store's readers and writers use). An org's
data key is made in the first write transaction that seals something, unwrapped once per
process and kept in memory (:class:`KeyRing`), so reads and writes pay one AES-GCM
operation per value and no key lookup.

Crypto-shredding: deleting an org deletes its key row (and the cascade every other row),
and records the org in the shred list outside the database; :meth:`KeyRing.unwrap`
refuses a shredded org's key, and a restore deletes the keys of shredded orgs that the
backup brought back (:func:`shredded_in_database`).
"""

from __future__ import annotations

import base64
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, LargeBinary, Table, delete, func, insert, select, update

from minibase.config import Settings
from minibase.crypto.envelope import (
    MAGIC,
    DataKey,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from minibase.crypto.master_keys import (
    MasterKeys,
    load_master_keys,
    read_shred_list,
    record_shredded,
    shred_list_path,
)
from minibase.errors import StartupError, Undecryptable
from minibase.ids import now_ms
from minibase.store.tables import org_data_keys

if TYPE_CHECKING:
    from minibase.store.unit_of_work import GlobalUnitOfWork, UnitOfWork

TEXT_PREFIX = "mbe1:"
"""Sealed values of text columns are stored as this prefix and the envelope in base64."""


@cache
def sealed_columns(table: Table) -> tuple[Column[Any], ...]:
    """The columns of ``table`` stored encrypted (``info=SEALED`` in ``store/tables.py``)."""
    return tuple(c for c in table.c if c.info.get("sealed"))


@cache
def _key_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns if c.name != "organization_id")


def row_key(table: Table, values: Any) -> str:
    """The id a sealed value of ``table`` is bound to: its primary key but the org
    (``values``: a mapping, or a row read by attribute)."""
    get = values.__getitem__ if isinstance(values, Mapping) else values.__getattribute__
    return "/".join(str(get(name)) for name in _key_columns(table))


@lru_cache(maxsize=64)
def _row_type(names: tuple[str, ...]) -> Any:
    make: Any = namedtuple
    return make("Row", names)


class Sealer:
    """Seals and opens one org's values at rest, bound to table, column and row id.

    Values written before encryption (no envelope magic) are read as they are. A sealer
    made with ``key=None`` seals nothing (encryption off, for the benchmark only) and
    still opens what it can: a sealed value then needs the key and raises
    :class:`Undecryptable`.
    """

    __slots__ = ("_key", "org_id", "sealing")

    def __init__(self, org_id: str, key: DataKey | None, *, sealing: bool) -> None:
        self.org_id = org_id
        self._key = key
        self.sealing = sealing and key is not None

    def seal(self, column: Column[Any], row_id: str, plain: bytes) -> bytes:
        """``plain`` as stored in ``column`` of the row ``row_id``."""
        if not self.sealing:
            return plain
        assert self._key is not None
        return self._key.seal(column.table.name, column.name, row_id, plain)

    def open(self, column: Column[Any], row_id: str, stored: bytes) -> bytes:
        """What :meth:`seal` was given, from what ``column`` of ``row_id`` holds."""
        if stored[:4] != MAGIC:
            return stored
        if self._key is None:
            raise Undecryptable(
                f"{column.table.name}.{column.name} of {row_id}: organization "
                f"{self.org_id} has no data key (deleted, or shredded)"
            )
        return self._key.open(column.table.name, column.name, row_id, bytes(stored))

    def seal_text(self, column: Column[Any], row_id: str, plain: str) -> str:
        """``plain`` as stored in a text ``column`` (the envelope in base64)."""
        if not self.sealing:
            return plain
        sealed = self.seal(column, row_id, plain.encode("utf-8"))
        return TEXT_PREFIX + base64.b64encode(sealed).decode("ascii")

    def open_text(self, column: Column[Any], row_id: str, stored: str) -> str:
        if not stored.startswith(TEXT_PREFIX):
            return stored
        raw = base64.b64decode(stored[len(TEXT_PREFIX) :])
        return self.open(column, row_id, raw).decode("utf-8")

    def seal_value(self, column: Column[Any], row_id: str, plain: Any) -> Any:
        """``plain`` (bytes, or text for a text column) as ``column`` stores it."""
        if plain is None:
            return None
        if isinstance(column.type, LargeBinary):
            return self.seal(column, row_id, plain)
        return self.seal_text(column, row_id, plain)

    def open_value(self, column: Column[Any], row_id: str, stored: Any) -> Any:
        if stored is None:
            return None
        if isinstance(column.type, LargeBinary):
            return self.open(column, row_id, bytes(stored))
        return self.open_text(column, row_id, stored)

    def seal_values(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        """A row of ``table`` (by column name, primary key included) with its sealed
        columns sealed: what an insert writes."""
        out = dict(values)
        if self.sealing:
            row_id = row_key(table, values)
            for column in sealed_columns(table):
                if column.name in out:
                    out[column.name] = self.seal_value(column, row_id, out[column.name])
        return out

    def open_values(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        """A row of ``table`` as read (a mapping by column name), its sealed columns opened."""
        out = dict(values)
        row_id = row_key(table, values)
        for column in sealed_columns(table):
            if column.name in out:
                out[column.name] = self.open_value(column, row_id, out[column.name])
        return out

    def open_row(self, table: Table, row: Any) -> Any:
        """A row of ``table`` as read (attribute access; its primary key among its
        columns), its sealed columns opened; the same fields, as a named tuple."""
        if row is None:
            return None
        row_id = row_key(table, row)
        opened = {
            c.name: self.open_value(c, row_id, getattr(row, c.name))
            for c in sealed_columns(table)
            if hasattr(row, c.name)
        }
        if hasattr(row, "_replace"):
            return row._replace(**opened)
        fields = tuple(row._fields)
        return _row_type(fields)(*(opened.get(f, v) for f, v in zip(fields, row, strict=True)))


@dataclass(frozen=True)
class RewrapReport:
    """What one run of :func:`rewrap` did."""

    current_key_id: str
    rewrapped: int
    remaining: int


class KeyRing:
    """This process's master keys and the data keys it has unwrapped (never logged).

    ``enabled=False`` writes plaintext (bench/encryption.py compares both in one run;
    never in a deployment: the setting does not exist)."""

    def __init__(self, settings: Settings, *, enabled: bool = True) -> None:
        self._settings = settings
        self._masters: MasterKeys | None = None
        self._keys: dict[str, DataKey] = {}
        self.enabled = enabled

    def __repr__(self) -> str:
        return "KeyRing(<hidden>)"

    def reload(self) -> None:
        """Read the master keys again (after a new one was added to the key file)."""
        self._masters = None

    @property
    def masters(self) -> MasterKeys:
        if self._masters is None:
            self._masters = load_master_keys(self._settings)
        return self._masters

    def cached(self, org_id: str) -> DataKey | None:
        return self._keys.get(org_id)

    def remember(self, key: DataKey) -> None:
        self._keys[key.org_id] = key

    def forget(self, org_id: str) -> None:
        self._keys.pop(org_id, None)

    def shredded(self) -> frozenset[str]:
        return read_shred_list(shred_list_path(self._settings))

    def record_shredded(self, org_id: str) -> None:
        self.forget(org_id)
        record_shredded(shred_list_path(self._settings), org_id)

    def unwrap(self, org_id: str, wrapped: bytes, master_key_id: str) -> DataKey:
        """The data key of ``org_id`` from its row; :class:`Undecryptable` when the org
        was shredded or no master key of this instance wrapped it."""
        if org_id in self.shredded():
            raise Undecryptable(f"the data key of organization {org_id} was destroyed")
        master = self.masters.by_id(master_key_id)
        if master is None:
            raise Undecryptable(
                f"the data key of organization {org_id} is wrapped under master key "
                f"{master_key_id}, which this instance does not hold"
            )
        return DataKey(org_id, unwrap_data_key(master, org_id, wrapped))

    def new_row(self, org_id: str) -> tuple[DataKey, dict[str, Any]]:
        """A fresh data key for ``org_id`` and its ``org_data_keys`` row."""
        raw = new_data_key()
        masters = self.masters
        row = {
            "owner_org": org_id,
            "wrapped_key": wrap_data_key(masters.current, org_id, raw),
            "master_key_id": masters.current_id,
            "created_at": now_ms(),
        }
        return DataKey(org_id, raw), row


async def sealer_for(
    uow: UnitOfWork,
    keys: KeyRing,
    org_id: str,
    *,
    write: bool,
    on_commit: Callable[[Callable[[], None]], None],
) -> Sealer:
    """The sealer of ``org_id`` in ``uow``: its data key from memory, else from its row
    (unwrapped once per process), else, in a write transaction, a new one stored in it
    (kept in memory only once that transaction commits)."""
    key = keys.cached(org_id)
    if key is None:
        found = (
            await uow.execute(
                select(org_data_keys.c.wrapped_key, org_data_keys.c.master_key_id).where(
                    org_data_keys.c.owner_org == org_id
                )
            )
        ).first()
        if found is not None:
            key = keys.unwrap(org_id, found.wrapped_key, found.master_key_id)
            keys.remember(key)
        elif write and keys.enabled:
            if org_id in keys.shredded():
                raise Undecryptable(f"organization {org_id} was shredded")
            key, row = keys.new_row(org_id)
            await uow.execute(insert(org_data_keys).values(**row))
            made = key
            on_commit(lambda: keys.remember(made))
    return Sealer(org_id, key, sealing=write and keys.enabled)


async def destroy_key(uow: UnitOfWork, org_id: str) -> None:
    """Delete ``org_id``'s data key row in ``uow`` (its org's deletion)."""
    await uow.execute(delete(org_data_keys).where(org_data_keys.c.owner_org == org_id))


async def key_ids_in_use(uow: GlobalUnitOfWork) -> dict[str, int]:
    """How many orgs' data keys each master key id wraps."""
    statement: Any = select(org_data_keys.c.master_key_id, func.count().label("n"))
    rows = await uow.execute(statement.group_by(org_data_keys.c.master_key_id))
    return {row.master_key_id: int(row.n) for row in rows.all()}


async def check_master_keys(uow: GlobalUnitOfWork, keys: KeyRing) -> None:
    """:class:`StartupError` unless this instance's master keys unwrap the data keys in
    the database (one key per master key id is unwrapped to prove it)."""
    masters = keys.masters
    for kid, count in (await key_ids_in_use(uow)).items():
        if masters.by_id(kid) is None:
            raise StartupError(
                f"the master key does not match this database: {count} organization data "
                f"key(s) are wrapped under master key {kid}, which {masters.source} does not "
                "hold (set MINIBASE_MASTER_KEY, or MINIBASE_MASTER_KEYS_PREVIOUS during a "
                "rotation; see docs/security.md)"
            )
        row = (
            await uow.execute(
                select(
                    org_data_keys.c.owner_org,
                    org_data_keys.c.wrapped_key,
                    org_data_keys.c.master_key_id,
                )
                .where(org_data_keys.c.master_key_id == kid)
                .limit(1)
            )
        ).first()
        if row is not None and row.owner_org not in keys.shredded():
            try:
                keys.unwrap(row.owner_org, row.wrapped_key, kid)
            except Undecryptable:
                raise StartupError(
                    f"the master key {kid} does not unwrap the data key of organization "
                    f"{row.owner_org}: the key or the database is damaged"
                ) from None


async def orgs_to_rewrap(uow: GlobalUnitOfWork, current_id: str) -> list[str]:
    rows = await uow.execute(
        select(org_data_keys.c.owner_org)
        .where(org_data_keys.c.master_key_id != current_id)
        .order_by(org_data_keys.c.owner_org)
    )
    return [r[0] for r in rows.all()]


async def rewrap_one(uow: GlobalUnitOfWork, keys: KeyRing, org_id: str) -> bool:
    """Re-wrap ``org_id``'s data key under the current master key in ``uow``; ``False``
    when it already was (another run got there first) or is gone."""
    masters = keys.masters
    row = (
        await uow.execute(
            select(org_data_keys.c.wrapped_key, org_data_keys.c.master_key_id).where(
                org_data_keys.c.owner_org == org_id
            )
        )
    ).first()
    if row is None or row.master_key_id == masters.current_id:
        return False
    old = masters.by_id(row.master_key_id)
    if old is None:
        raise Undecryptable(
            f"the data key of organization {org_id} is wrapped under master key "
            f"{row.master_key_id}, which this instance does not hold"
        )
    raw = unwrap_data_key(old, org_id, row.wrapped_key)
    result = await uow.execute(
        update(org_data_keys)
        .where(
            org_data_keys.c.owner_org == org_id,
            org_data_keys.c.master_key_id == row.master_key_id,
        )
        .values(
            wrapped_key=wrap_data_key(masters.current, org_id, raw),
            master_key_id=masters.current_id,
            rewrapped_at=now_ms(),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def shredded_in_database(present: list[str], keys: KeyRing) -> list[str]:
    """The orgs among ``present`` (orgs with a key row) that the shred list names."""
    shredded = keys.shredded()
    return [org for org in present if org in shredded]
