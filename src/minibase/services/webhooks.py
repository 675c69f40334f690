"""Inbound webhooks of flows: create, list, delete, rotate the secret, and receive.

``POST /v1/hooks/{webhookId}`` is signed as Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body`` under the secret). A verified delivery starts one run of the flow
(trigger ``webhook``, its JSON body as the trigger payload). The run's dedupe key is
derived from the ``webhook-id``, so a delivery sent again starts nothing and answers the
first run's id. Secrets are shown only when made and stored sealed under the org's data
key (:func:`seal_hook_secret`), so deleting the org shreds them with the rest of its data;
neither they nor signatures are ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, insert, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from minibase.config import Settings
from minibase.crypto.envelope import is_sealed
from minibase.crypto.webhook_secrets import (
    SecretUnreadable,
    WebhookKey,
    open_secret,
    seal_secret,
    webhook_key,
)
from minibase.domain.json_input import json_problem
from minibase.domain.principal import SYSTEM
from minibase.engine.registry import NodeRegistry
from minibase.errors import (
    BadRequest,
    NotFound,
    Unauthenticated,
    Undecryptable,
    ValidationFailed,
)
from minibase.ids import new_id, now_ms
from minibase.services import audit, flows, runs
from minibase.services.audit import RequestMeta
from minibase.services.flow_changes import author_id
from minibase.services.pagination import keyset, page
from minibase.store.tables import flow_webhooks, webhook_routes
from minibase.store.unit_of_work import Store, TenantUnitOfWork, UnitOfWork

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
TOLERANCE_SECONDS = 5 * 60
"""How far a ``webhook-timestamp`` may be from now (either way)."""
MAX_MESSAGE_ID = 256


def secrets_key(settings: Settings) -> WebhookKey:
    """The key webhook secrets of this instance are sealed under."""
    return webhook_key(settings)


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


async def seal_hook_secret(
    uow: TenantUnitOfWork, column: Any, key: WebhookKey, webhook_id: str, secret: str
) -> bytes:
    """``secret`` as ``column`` (a webhooks table's ``sealed_secret``) stores it.

    Sealed under the org's data key, bound to the column and the webhook, so crypto-shredding
    the org makes it unreadable in every backup too. Only when the org's values are not
    sealed (encryption switched off for the benchmark) is the instance key used instead:
    a secret is never stored in plaintext.
    """
    sealer = await uow.sealer()
    if sealer.sealing:
        return sealer.seal(column, webhook_id, secret.encode())
    return seal_secret(key, uow.org_id, webhook_id, secret)


async def open_hook_secret(
    uow: TenantUnitOfWork, column: Any, key: WebhookKey, webhook_id: str, stored: bytes
) -> str:
    """What :func:`seal_hook_secret` was given; secrets sealed before per-org keys (under
    the instance key) still open. :class:`SecretUnreadable` when it does not open."""
    stored = bytes(stored)
    if not is_sealed(stored):
        return open_secret(key, uow.org_id, webhook_id, stored)
    try:
        return (await uow.sealer()).open(column, webhook_id, stored).decode()
    except Undecryptable:
        raise SecretUnreadable("the secret does not open under the org's data key") from None


def hook_url(public_url: str, webhook_id: str) -> str:
    return f"{public_url.rstrip('/')}/v1/hooks/{webhook_id}"


def webhook_json(row: Any, public_url: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "flowId": row.flow_id,
        "name": row.name,
        "url": hook_url(public_url, row.id),
        "createdBy": row.created_by,
        "createdAt": row.created_at,
        "rotatedAt": row.rotated_at,
    }


def _name(body: Mapping[str, Any]) -> str | None:
    unknown = sorted(set(body) - {"name"})
    if unknown:
        raise ValidationFailed(
            [{"field": unknown[0], "message": "Unknown field.", "type": "extra_forbidden"}]
        )
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise ValidationFailed(
            [{"field": "name", "message": "A string of 200 characters at most.", "type": "string"}]
        )
    return name


async def _load(uow: TenantUnitOfWork, webhook_id: str, flow_id: str | None = None) -> Any:
    stmt = uow.select(flow_webhooks).where(flow_webhooks.c.id == webhook_id)
    if flow_id is not None:
        stmt = stmt.where(flow_webhooks.c.flow_id == flow_id)
    row = (await uow.execute(stmt)).first()
    if row is None:
        raise NotFound("No such webhook.")
    return row


async def create_webhook(
    uow: TenantUnitOfWork,
    key: WebhookKey,
    public_url: str,
    flow_id: str,
    body: Mapping[str, Any],
    meta: RequestMeta,
) -> dict[str, Any]:
    """A new webhook of the flow, with its secret (shown only here)."""
    await flows.get_flow_in(uow, flow_id)
    name = _name(body)
    webhook_id = new_id("wh")
    secret = new_secret()
    await uow.execute(
        uow.insert(
            flow_webhooks,
            id=webhook_id,
            flow_id=flow_id,
            name=name,
            sealed_secret=await seal_hook_secret(
                uow, flow_webhooks.c.sealed_secret, key, webhook_id, secret
            ),
            created_by=author_id(uow.principal),
            created_at=now_ms(),
            rotated_at=None,
        )
    )
    await uow.execute(insert(webhook_routes).values(webhook_id=webhook_id, owner_org=uow.org_id))
    await audit.record(
        uow, "webhook.create", "webhook", webhook_id, meta=meta, details={"flowId": flow_id}
    )
    return {**webhook_json(await _load(uow, webhook_id), public_url), "secret": secret}


async def list_webhooks(
    uow: TenantUnitOfWork, public_url: str, flow_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The flow's webhooks, oldest first, without secrets."""
    await flows.get_flow_in(uow, flow_id)
    stmt = keyset(
        uow.select(flow_webhooks).where(flow_webhooks.c.flow_id == flow_id),
        [flow_webhooks.c.created_at, flow_webhooks.c.id],
        cursor,
        limit,
    )
    rows = (await uow.execute(stmt)).all()
    return page(
        rows,
        limit,
        render=lambda r: webhook_json(r, public_url),
        key=lambda r: [r.created_at, r.id],
    )


async def delete_webhook(
    uow: TenantUnitOfWork, flow_id: str, webhook_id: str, meta: RequestMeta
) -> None:
    await _load(uow, webhook_id, flow_id)
    await uow.execute(uow.delete(flow_webhooks).where(flow_webhooks.c.id == webhook_id))
    await uow.execute(delete(webhook_routes).where(webhook_routes.c.webhook_id == webhook_id))
    await audit.record(
        uow, "webhook.delete", "webhook", webhook_id, meta=meta, details={"flowId": flow_id}
    )


async def rotate_secret(
    uow: TenantUnitOfWork,
    key: WebhookKey,
    public_url: str,
    flow_id: str,
    webhook_id: str,
    meta: RequestMeta,
) -> dict[str, Any]:
    """A new secret (shown only here); the old one stops verifying at once."""
    await _load(uow, webhook_id, flow_id)
    secret = new_secret()
    sealed = await seal_hook_secret(uow, flow_webhooks.c.sealed_secret, key, webhook_id, secret)
    await uow.execute(
        uow.update(flow_webhooks)
        .where(flow_webhooks.c.id == webhook_id)
        .values(sealed_secret=sealed, rotated_at=now_ms())
    )
    await audit.record(
        uow,
        "webhook.rotate_secret",
        "webhook",
        webhook_id,
        meta=meta,
        details={"flowId": flow_id},
    )
    return {**webhook_json(await _load(uow, webhook_id), public_url), "secret": secret}


# --- receiving ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    run_id: str
    new: bool
    """``False``: the ``webhook-id`` was seen before; ``run_id`` is the first run's."""


async def _owner(uow: UnitOfWork, webhook_id: str) -> str:
    org = (
        await uow.execute(
            select(webhook_routes.c.owner_org).where(webhook_routes.c.webhook_id == webhook_id)
        )
    ).scalar_one_or_none()
    if org is None:
        raise NotFound("No such webhook.")
    return str(org)


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float) -> str:
    """The delivery's ``webhook-id`` once its signature and timestamp check out, else
    :class:`Unauthenticated` (401) saying which part failed, never what was sent."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signature = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and signature):
        raise Unauthenticated(
            "A signed webhook needs webhook-id, webhook-timestamp and webhook-signature."
        )
    if len(msg_id) > MAX_MESSAGE_ID:
        raise Unauthenticated(f"webhook-id is longer than {MAX_MESSAGE_ID} characters.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Unauthenticated("webhook-timestamp must be whole seconds since the epoch.") from None
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        raise Unauthenticated("webhook-timestamp is more than 5 minutes away.")
    try:
        Webhook(secret).verify(
            body,
            {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature},
            json_parse=False,
        )
    except WebhookVerificationError:
        raise Unauthenticated("The webhook signature does not match.") from None
    return msg_id


def _payload(body: bytes) -> Any:
    if not body.strip():
        return None
    # Senders set any content type, so the input guard (JSON bodies only) has not looked:
    # its checks here (a NUL character, a lone surrogate, an integer beyond 64 bits).
    problem = json_problem(body)
    if problem is not None:
        raise problem
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The webhook body must be JSON.") from None


async def receive(
    store: Store,
    registry: NodeRegistry,
    key: WebhookKey,
    webhook_id: str,
    headers: Mapping[str, str],
    body: bytes,
    meta: RequestMeta,
) -> Received:
    """Verify a delivery and start its run (see the module docstring)."""
    async with store.global_(SYSTEM) as guow:
        org_id = await _owner(guow, webhook_id)
    async with store.tenant(org_id, SYSTEM) as uow:
        row = await _load(uow, webhook_id)
        flow_id = row.flow_id
        try:
            secret = await open_hook_secret(
                uow, flow_webhooks.c.sealed_secret, key, webhook_id, row.sealed_secret
            )
        except SecretUnreadable:
            raise Unauthenticated("The webhook's secret cannot be read on this instance.") from None
    msg_id = verify(secret, headers, body, now=time.time())
    payload = _payload(body)
    digest = hashlib.sha256(msg_id.encode()).hexdigest()
    trigger = runs.Trigger(
        "webhook", id=webhook_id, payload=payload, dedupe_key=f"webhook:{webhook_id}:{digest}"
    )
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        await _load(uow, webhook_id)  # deleted meanwhile: 404
        run, new = await runs.start_run(
            uow,
            registry,
            flow_id,
            runs.RunRequest({}, None, None, False, None),
            trigger=trigger,
            meta=meta,
        )
    return Received(str(run["id"]), new)
