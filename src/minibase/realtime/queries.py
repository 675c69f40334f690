"""The live queries a client can subscribe to over ``/v1/sync``.

Each query names the permission it needs, the arguments it takes, which committed events
touch it, and how to compute its value. Values are computed as serialized JSON bytes so
a change is detected by comparing bytes and one computation serves every subscriber of
the same ``(query, args)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.domain.principal import SYSTEM
from minibase.domain.roles import Action
from minibase.errors import ValidationFailed
from minibase.realtime.events import Event
from minibase.services import audit, flow_history, flows, members, outputs
from minibase.services.orgs import load_org
from minibase.services.usage import limits_of, usage_json, usage_of
from minibase.store.unit_of_work import Store, TenantUnitOfWork

LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class QueryValue:
    """A query's value as JSON bytes, and the version it reflects."""

    body: bytes
    version: int | None


Runner = Callable[[TenantUnitOfWork, dict[str, str]], Awaitable[QueryValue]]


@dataclass(frozen=True, slots=True)
class QuerySpec:
    name: str
    action: Action
    args: tuple[str, ...]
    kinds: frozenset[str]
    """Event kinds that may change the value; ``*`` means any event of the org."""
    keyed_by: str | None
    """The argument an event's ids must contain (``flowId``), if any."""
    run: Runner

    def touched_by(self, event: Event, args: dict[str, str]) -> bool:
        if "*" not in self.kinds and event.kind not in self.kinds:
            return False
        return self.keyed_by is None or not event.ids or args[self.keyed_by] in event.ids


def _value(data: Any, version: int | None = None) -> QueryValue:
    return QueryValue(orjson.dumps(data), version)


async def _flows_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(await flows.list_flows(uow, limit=LIST_LIMIT, cursor=None))


async def _flows_get(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    result = await flows.get_flow(uow, args["flowId"])
    return QueryValue(result.body, result.version)


async def _outputs_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(
        await outputs.list_outputs(
            uow, args["flowId"], node_id=None, latest=False, limit=LIST_LIMIT, cursor=None
        )
    )


async def _usage_get(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    org = await load_org(uow)
    return _value(usage_json(usage_of(org), limits_of(org)))


async def _members_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(await members.list_members(uow, limit=LIST_LIMIT, cursor=None))


async def _versions_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    await flows.get_flow(uow, args["flowId"])
    return _value(
        await flow_history.list_versions(uow, args["flowId"], limit=LIST_LIMIT, cursor=None)
    )


async def _audit_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(await audit.list_events(uow, audit.AuditFilter(), limit=LIST_LIMIT, cursor=None))


QUERIES: dict[str, QuerySpec] = {
    spec.name: spec
    for spec in (
        QuerySpec(
            "flows.list", Action.FLOWS_READ, ("orgId",), frozenset({"flow"}), None, _flows_list
        ),
        QuerySpec(
            "flows.get",
            Action.FLOWS_READ,
            ("orgId", "flowId"),
            frozenset({"flow"}),
            "flowId",
            _flows_get,
        ),
        QuerySpec(
            "outputs.list",
            Action.OUTPUTS_READ,
            ("orgId", "flowId"),
            frozenset({"outputs", "flow"}),
            "flowId",
            _outputs_list,
        ),
        QuerySpec(
            "usage.get",
            Action.USAGE_READ,
            ("orgId",),
            frozenset({"usage", "org"}),
            None,
            _usage_get,
        ),
        QuerySpec(
            "members.list",
            Action.MEMBERS_READ,
            ("orgId",),
            frozenset({"members"}),
            None,
            _members_list,
        ),
        QuerySpec(
            "versions.list",
            Action.FLOWS_READ,
            ("orgId", "flowId"),
            frozenset({"flow"}),
            "flowId",
            _versions_list,
        ),
        QuerySpec("audit.list", Action.AUDIT_READ, ("orgId",), frozenset({"*"}), None, _audit_list),
    )
}


def parse_subscription(query: Any, args: Any) -> tuple[QuerySpec, dict[str, str]]:
    """The query's spec and its arguments, or :class:`ValidationFailed`."""
    spec = QUERIES.get(query) if isinstance(query, str) else None
    if spec is None:
        raise ValidationFailed(
            [
                {
                    "field": "query",
                    "message": f"Unknown query; one of {sorted(QUERIES)}.",
                    "type": "enum",
                }
            ]
        )
    if not isinstance(args, dict):
        raise ValidationFailed([{"field": "args", "message": "An object.", "type": "dict_type"}])
    clean: dict[str, str] = {}
    for name in spec.args:
        value = args.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= 64:
            raise ValidationFailed(
                [
                    {
                        "field": f"args.{name}",
                        "message": "A non-empty id string.",
                        "type": "string_type",
                    }
                ]
            )
        clean[name] = value
    return spec, clean


async def run_query(store: Store, spec: QuerySpec, args: dict[str, str]) -> QueryValue:
    """Compute a query's value (authorization was checked by the caller)."""
    async with store.tenant(args["orgId"], SYSTEM) as uow:
        return await spec.run(uow, args)
