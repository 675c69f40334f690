"""Import a ``minibase-org`` archive as a new organization, on either engine.

Everything is checked before anything is written: the manifest (format, version), every
file's sha256, size and row count, and every line (a JSON object whose columns this
release knows). Then one transaction writes the org, its members (matched by email: a
member without an account here is reported, not created), every row, and an
``org.import`` audit event chained after the imported ones. Rows are read and written a
batch at a time from the archive on disk, so memory stays flat whatever its size.

``ids=keep`` keeps every id (the org id must be free here), so every row is equal to the
exported one and the audit chain verifies as it was. ``ids=new`` gives the org, its
flows and every other row with an ``id`` new ids of the same type, rewrites the
references to them (``flow_id``, a flow's audit ``resourceId``) and re-chains the audit
log (each event's hash recomputed over its new ids); the report lists what was remapped.
User ids (``createdBy``, audit actors) are kept as they were: pseudonymous ids of the
exporting instance.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import BigInteger, Integer, String, Table, insert, select

from minibase import __version__
from minibase.crypto.passphrase import SealError, is_sealed, open_sealed
from minibase.domain import org_archive as fmt
from minibase.domain.emails import fold_email as normalize_email
from minibase.domain.json_input import json_problem
from minibase.domain.principal import SYSTEM, Principal
from minibase.domain.roles import Role
from minibase.errors import Conflict, InvalidArchive, UnsupportedFormat
from minibase.ids import new_id, now_ms
from minibase.services import audit, retention
from minibase.services.audit import RequestMeta
from minibase.services.org_export import binary_columns, exported_tables
from minibase.services.orgs import load_org, org_json
from minibase.store.tables import audit_events, flows, memberships, organizations, users
from minibase.store.unit_of_work import Store

IdPolicy = Literal["keep", "new"]
BATCH = 200


@dataclass
class Checked:
    """An archive whose every file and line was checked."""

    zf: zipfile.ZipFile
    manifest: dict[str, Any]
    organization: dict[str, Any]
    members: list[dict[str, Any]]
    tables: list[Table] = field(default_factory=list)
    id_prefixes: set[str] = field(default_factory=set)
    """Type prefixes of the row ids the archive holds (``flow``, ``run`` ...)."""


def unseal(upload: Path, passphrase: str | None, workdir: Path) -> Path:
    """The plain zip of an upload: itself, or the sealed archive opened into ``workdir``."""
    with upload.open("rb") as head:
        if not is_sealed(head.read(16)):
            return upload
    if not passphrase:
        raise InvalidArchive(
            "The archive is sealed with a passphrase: send it in the X-Archive-Passphrase "
            "header (minibase import: --passphrase-env)."
        )
    opened = workdir / "archive.zip"
    try:
        with upload.open("rb") as sealed, opened.open("wb") as out:
            for chunk in open_sealed(sealed, passphrase):
                out.write(chunk)
    except SealError as exc:
        raise InvalidArchive(str(exc)) from None
    return opened


async def user_id_by_email(store: Store, email: str) -> str | None:
    async with store.global_(SYSTEM) as uow:
        found = await uow.execute(select(users.c.id).where(users.c.email == normalize_email(email)))
        return found.scalar_one_or_none()


def _loads(raw: bytes, name: str) -> Any:
    """One JSON value of the archive; what no database can hold (a NUL character, a lone
    surrogate, an integer beyond 64 bits, deep nesting) makes the archive invalid, as it
    makes a request body invalid, so both databases refuse it alike and nothing is
    written."""
    problem = json_problem(raw)
    if problem is not None:
        raise InvalidArchive(f"{name} holds a value no database can store: {problem.message}")
    return orjson.loads(raw)


def _check_columns(table: Table, row: dict[str, Any], name: str) -> None:
    """Refuse a value its column cannot hold (an integer out of the column's range, a
    string where a number goes, ...): the same answer on SQLite, which would store it,
    and PostgreSQL, which would fail the whole import half-way."""
    for column in table.c:
        value = row.get(column.name)
        if value is None:
            continue
        kind = column.type
        if isinstance(kind, Integer):
            bound = 2**63 if isinstance(kind, BigInteger) else 2**31
            if isinstance(value, bool) or not isinstance(value, int) or not -bound <= value < bound:
                raise InvalidArchive(
                    f"{name}: {column.name} must be an integer of at most "
                    f"{bound.bit_length()} bits."
                )
        elif isinstance(kind, String) and not isinstance(value, str):
            raise InvalidArchive(f"{name}: {column.name} must be a string.")


def _lines(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, Any]]:
    with zf.open(name) as stream:
        for raw in stream:
            value = _loads(raw, name)
            if not isinstance(value, dict):
                raise InvalidArchive(f"{name} holds a line that is not a JSON object.")
            yield value


def check(path: Path) -> Checked:
    """Open and check the archive at ``path``; raise before anything could be written."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidArchive(f"The archive is not a complete zip file ({exc}).") from None
    try:
        return _check(zf)
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, TypeError) as exc:
        zf.close()
        raise InvalidArchive(f"The archive is damaged ({type(exc).__name__}: {exc}).") from None
    except BaseException:
        zf.close()
        raise


def _check(zf: zipfile.ZipFile) -> Checked:
    manifest = _loads(zf.read(fmt.MANIFEST), fmt.MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != fmt.FORMAT:
        raise InvalidArchive("This is not a Minibase organization archive.")
    version = manifest.get("formatVersion")
    if not isinstance(version, int) or version > fmt.FORMAT_VERSION:
        raise UnsupportedFormat(
            f"The archive has format version {version} (from Minibase "
            f"{manifest.get('minibaseVersion')}); this release ({__version__}) reads format "
            f"versions up to {fmt.FORMAT_VERSION}. Import it with a newer Minibase.",
            {"formatVersion": version, "supportedFormatVersion": fmt.FORMAT_VERSION},
        )
    files: dict[str, Any] = manifest["files"]
    known = {fmt.file_of(t.name): t for t in exported_tables()}
    unknown = set(files) - set(known) - {fmt.ORGANIZATION, fmt.MEMBERS}
    if unknown:
        raise UnsupportedFormat(
            f"The archive holds kinds this release does not know: {sorted(unknown)}.",
            {"kinds": sorted(unknown)},
        )
    extra = set(zf.namelist()) - set(files) - {fmt.MANIFEST}
    if extra:
        raise InvalidArchive(f"The archive holds files its manifest does not list: {sorted(extra)}")
    for name, expected in files.items():
        digest, size, rows = hashlib.sha256(), 0, 0
        with zf.open(name) as stream:
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
                rows += chunk.count(b"\n")
        if name == fmt.ORGANIZATION:
            rows = 1
        if (digest.hexdigest(), size, rows) != (
            expected["sha256"],
            expected["bytes"],
            expected["rows"],
        ):
            raise InvalidArchive(f"The archive's {name} does not match its manifest.")
    organization = _loads(zf.read(fmt.ORGANIZATION), fmt.ORGANIZATION)
    if not isinstance(organization, dict) or set(organization) != set(fmt.ORG_FIELDS):
        raise InvalidArchive("The archive's organization.json is not an organization.")
    _check_columns(organizations, organization, fmt.ORGANIZATION)
    members = list(_lines(zf, fmt.MEMBERS))
    checked = Checked(zf, manifest, organization, members)
    for name, table in known.items():
        if name not in files:
            continue
        columns = {c.name for c in table.c} - {"organization_id"}
        binary = binary_columns(table)
        for line in _lines(zf, name):
            if isinstance(line.get("id"), str):
                checked.id_prefixes.add(fmt.id_prefix(line["id"]))
            if not set(line) <= columns:
                raise UnsupportedFormat(
                    f"{name} has columns this release does not know: "
                    f"{sorted(set(line) - columns)}.",
                    {"columns": sorted(set(line) - columns)},
                )
            _check_columns(table, line, name)
            fmt.decode_row(line, binary)
        checked.tables.append(table)
    return checked


class _Remap:
    """Old id -> new id for ``ids=new`` (nothing changes for ``ids=keep``).

    A new id is a keyed hash of the old one (HMAC-SHA256 under a random key of this
    import), so every reference to a row, read in any order, gets the same new id without
    a table of them in memory; it keeps the old id's type prefix and is as unguessable as
    a fresh one. Remapped: each row's ``id``, and any ``..._id`` column (and an audit
    event's ``resource_id``) whose value has the prefix of an id the archive holds. User
    ids (``created_by``, ``actor_id``) and client-chosen node ids are kept.
    """

    KEPT = frozenset({"organization_id", "actor_id", "user_id", "node_id", "created_by"})

    def __init__(self, policy: IdPolicy, old_org: str, new_org: str, prefixes: set[str]) -> None:
        self.policy = policy
        self.org = (old_org, new_org)
        self.prefixes = prefixes
        self.flows: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self._key = secrets.token_bytes(32)

    def new_id(self, old: str) -> str:
        digest = hmac.new(self._key, old.encode("utf-8"), hashlib.sha256).digest()
        return f"{fmt.id_prefix(old)}_{base64.b32encode(digest).decode('ascii')[:26].lower()}"

    def _reference(self, value: Any) -> Any:
        if value == self.org[0]:
            return self.org[1]
        if isinstance(value, str) and fmt.id_prefix(value) in self.prefixes:
            return self.new_id(value)
        return value

    def row(self, table: Table, row: dict[str, Any], prev_hash: str) -> dict[str, Any]:
        row["organization_id"] = self.org[1]
        if self.policy == "keep":
            return row
        for column in list(row):
            if column == "id":
                fresh = self.new_id(row["id"])
                if table is flows:
                    self.flows[row["id"]] = fresh
                row["id"] = fresh
                kind = fmt.kind_of(table.name)
                self.counts[kind] = self.counts.get(kind, 0) + 1
            elif (column.endswith("_id") and column not in self.KEPT) or (
                table is audit_events and column == "resource_id"
            ):
                row[column] = self._reference(row[column])
        if table is audit_events:
            row["prev_hash"] = prev_hash
            row["hash"] = audit.chain_hash(prev_hash, row)
        return row


async def import_org(
    store: Store,
    principal: Principal,
    checked: Checked,
    *,
    ids: IdPolicy,
    keep_plan: bool,
    meta: RequestMeta,
) -> dict[str, Any]:
    """Write a checked archive as a new org with the caller as its admin: ``{organization,
    report}``."""
    assert principal.user_id is not None
    old_org = str(checked.manifest["organizationId"])
    org_id = old_org if ids == "keep" else new_id("org")
    remap = _Remap(ids, old_org, org_id, checked.id_prefixes)
    emails = {normalize_email(m["email"]): m for m in checked.members}
    async with store.global_(principal) as guow:
        found = {
            normalize_email(r.email): r.id
            for r in (
                await guow.execute(
                    select(users.c.id, users.c.email).where(users.c.email.in_(list(emails)))
                )
            ).all()
        }
        if ids == "keep":
            taken = await guow.execute(
                select(organizations.c.id).where(organizations.c.id == org_id)
            )
            if taken.first() is not None:
                raise Conflict(
                    f"An organization with id {org_id} exists here: import with ?ids=new.",
                    {"organizationId": org_id},
                )
    source = checked.organization
    plan = source["plan"] if keep_plan else "free"
    now = now_ms()
    async with store.tenant(org_id, principal, write=True) as uow:
        if ids == "keep":
            existing = await uow.execute(uow.select(organizations))
            if existing.first() is not None:  # PostgreSQL: visible only from inside
                raise Conflict(
                    f"An organization with id {org_id} exists here: import with ?ids=new.",
                    {"organizationId": org_id},
                )
        await uow.execute(uow.insert(organizations, **{**source, "plan": plan, "updated_at": now}))
        await retention.record_policy(uow, (source.get("settings") or {}).get("retention"))
        member_rows = [
            {
                "user_id": found[email],
                "role": Role.ADMIN.value if found[email] == principal.user_id else m["role"],
                "created_at": m["createdAt"],
            }
            for email, m in emails.items()
            if email in found
        ]
        if principal.user_id not in {r["user_id"] for r in member_rows}:
            member_rows.append(
                {"user_id": principal.user_id, "role": Role.ADMIN.value, "created_at": now}
            )
        for row in member_rows:
            await uow.execute(uow.insert(memberships, **row))
        prev_hash = audit.GENESIS_HASH
        sealer = await uow.sealer()  # this org's data key, made now (its row exists)
        for table in checked.tables:
            binary = binary_columns(table)
            batch: list[dict[str, Any]] = []
            for line in _lines(checked.zf, fmt.file_of(table.name)):
                row = remap.row(table, fmt.decode_row(line, binary), prev_hash)
                if table is audit_events:
                    prev_hash = row["hash"]
                batch.append(sealer.seal_values(table, row))
                if len(batch) == BATCH:
                    await uow.execute(insert(table).values(batch))
                    batch = []
            if batch:
                await uow.execute(insert(table).values(batch))
        report = {
            "ids": ids,
            "sourceOrganizationId": old_org,
            "organizationId": org_id,
            "counts": checked.manifest.get("counts", {}),
            "members": {
                "matched": sorted(e for e in emails if e in found),
                "unmatched": sorted(e for e in emails if e not in found),
            },
            "plan": {"archive": source["plan"], "imported": plan},
            "remapped": {
                "organization": {old_org: org_id} if ids == "new" else {},
                "flows": remap.flows,
                "counts": remap.counts,
                "auditChainRehashed": ids == "new",
            },
        }
        await audit.record(
            uow,
            "org.import",
            "organization",
            org_id,
            meta=meta,
            details={
                "sourceOrganizationId": old_org,
                "ids": ids,
                "formatVersion": checked.manifest["formatVersion"],
                "minibaseVersion": checked.manifest.get("minibaseVersion"),
            },
        )
        row = await load_org(uow)
    return {"organization": org_json(row), "report": report}
