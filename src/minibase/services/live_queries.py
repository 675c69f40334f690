"""The live queries a client can subscribe to over ``/v1/sync``.

Each query names the permission it needs, the arguments it takes, which committed events
touch it, and how to compute its value. Values are computed as serialized JSON bytes so
a change is detected by comparing bytes and one computation serves every subscriber of
the same ``(query, args)``. The hub (``minibase.realtime.hub``) keeps them live; the
queries themselves are use cases of this package.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import SYSTEM
from minibase.domain.roles import Action
from minibase.errors import ValidationFailed
from minibase.services import (
    audit,
    comments,
    flow_history,
    flows,
    members,
    notifications,
    outputs,
    runs,
    schedules,
    tasks,
)
from minibase.services.orgs import load_org
from minibase.services.run_usage import run_usage
from minibase.services.usage import limits_of, usage_json, usage_of
from minibase.store.unit_of_work import GlobalUnitOfWork, Store, TenantUnitOfWork

LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class QueryValue:
    """A query's value as JSON bytes, and the version it reflects."""

    body: bytes
    version: int | None


Runner = Callable[[TenantUnitOfWork, dict[str, str]], Awaitable[QueryValue]]
UserRunner = Callable[[GlobalUnitOfWork, dict[str, str]], Awaitable[QueryValue]]

USER_ARG = "userId"
"""The argument the hub gives a user-scoped query: the subscriber's user id (never taken
from the client)."""


@dataclass(frozen=True, slots=True)
class QuerySpec:
    name: str
    action: Action
    args: tuple[str, ...]
    kinds: frozenset[EventKind] | None
    """Event kinds that may change the value; ``None``: any event of the org."""
    keyed_by: str | None
    """The argument an event's ids must contain (``flowId``), if any."""
    run: Runner | UserRunner
    optional: tuple[str, ...] = ()
    """Arguments that may be left out."""
    user_scoped: bool = False
    """A query of the signed-in user's own rows (``notifications.list``): no ``orgId``, run
    in a global unit of work with :data:`USER_ARG` set by the hub, touched by events of
    any org whose ids name the user; API keys may not subscribe."""

    def touched_by(self, event: Event, args: dict[str, str]) -> bool:
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        if self.user_scoped:
            return args[USER_ARG] in event.ids
        return self.keyed_by is None or not event.ids or args[self.keyed_by] in event.ids


def _value(data: Any, version: int | None = None) -> QueryValue:
    return QueryValue(orjson.dumps(data), version)


async def _flows_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(await flows.list_flows_in(uow, limit=LIST_LIMIT, cursor=None))


async def _flows_get(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    result = await flows.get_flow_in(uow, args["flowId"])
    return QueryValue(result.body, result.version)


async def _outputs_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(
        await outputs.list_outputs_in(
            uow, args["flowId"], node_id=None, latest=False, limit=LIST_LIMIT, cursor=None
        )
    )


async def _usage_get(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    org = await load_org(uow)
    runs = await run_usage(uow, org.plan)
    return _value({**usage_json(usage_of(org), limits_of(org)), "runs": runs})


async def _members_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(await members.list_members_in(uow, limit=LIST_LIMIT, cursor=None))


async def _versions_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    await flows.get_flow_in(uow, args["flowId"])
    return _value(
        await flow_history.list_versions(uow, args["flowId"], limit=LIST_LIMIT, cursor=None)
    )


async def _audit_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(await audit.list_events(uow, audit.AuditFilter(), limit=LIST_LIMIT, cursor=None))


async def _runs_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(
        await runs.list_runs(
            uow, flow_id=args.get("flowId"), status=None, limit=LIST_LIMIT, cursor=None
        )
    )


async def _schedules_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(
        await schedules.list_schedules(uow, args["flowId"], limit=LIST_LIMIT, cursor=None)
    )


async def _comments_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(
        await comments.list_comments_in(
            uow, args["flowId"], node_id=None, resolved=None, limit=LIST_LIMIT, cursor=None
        )
    )


async def _runs_get(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(await runs.get_run(uow, args["runId"]))


async def _tasks_list(uow: TenantUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(
        await tasks.list_tasks_in(
            uow,
            assignee_id=args.get("assigneeId"),
            flow_id=args.get("flowId"),
            status=None,
            limit=LIST_LIMIT,
            cursor=None,
        )
    )


async def _notifications_list(uow: GlobalUnitOfWork, args: dict[str, str]) -> QueryValue:
    return _value(
        await notifications.list_notifications_in(
            uow, args[USER_ARG], unread=False, limit=LIST_LIMIT, cursor=None
        )
    )


QUERIES: dict[str, QuerySpec] = {
    spec.name: spec
    for spec in (
        QuerySpec(
            "flows.list",
            Action.FLOWS_READ,
            ("orgId",),
            frozenset({EventKind.FLOW}),
            None,
            _flows_list,
        ),
        QuerySpec(
            "flows.get",
            Action.FLOWS_READ,
            ("orgId", "flowId"),
            frozenset({EventKind.FLOW}),
            "flowId",
            _flows_get,
        ),
        QuerySpec(
            "outputs.list",
            Action.OUTPUTS_READ,
            ("orgId", "flowId"),
            frozenset({EventKind.OUTPUTS, EventKind.FLOW}),
            "flowId",
            _outputs_list,
        ),
        QuerySpec(
            "usage.get",
            Action.USAGE_READ,
            ("orgId",),
            frozenset({EventKind.USAGE, EventKind.ORG, EventKind.RUNS}),
            None,
            _usage_get,
        ),
        QuerySpec(
            "members.list",
            Action.MEMBERS_READ,
            ("orgId",),
            frozenset({EventKind.MEMBERS}),
            None,
            _members_list,
        ),
        QuerySpec(
            "versions.list",
            Action.FLOWS_READ,
            ("orgId", "flowId"),
            frozenset({EventKind.FLOW}),
            "flowId",
            _versions_list,
        ),
        QuerySpec("audit.list", Action.AUDIT_READ, ("orgId",), None, None, _audit_list),
        QuerySpec(
            "runs.list",
            Action.FLOWS_READ,
            ("orgId",),
            frozenset({EventKind.RUNS}),
            None,
            _runs_list,
            optional=("flowId",),
        ),
        QuerySpec(
            "runs.get",
            Action.FLOWS_READ,
            ("orgId", "runId"),
            frozenset({EventKind.RUNS}),
            "runId",
            _runs_get,
        ),
        QuerySpec(
            "schedules.list",
            Action.FLOWS_READ,
            ("orgId", "flowId"),
            frozenset({EventKind.SCHEDULES, EventKind.FLOW}),
            "flowId",
            _schedules_list,
        ),
        QuerySpec(
            "comments.list",
            Action.FLOWS_READ,
            ("orgId", "flowId"),
            frozenset({EventKind.COMMENTS, EventKind.FLOW}),
            "flowId",
            _comments_list,
        ),
        QuerySpec(
            "tasks.list",
            Action.FLOWS_READ,
            ("orgId",),
            # Flow changes too: a deleted node or a trashed flow orphans tasks.
            frozenset({EventKind.TASKS, EventKind.FLOW}),
            None,
            _tasks_list,
            optional=("flowId", "assigneeId"),
        ),
        QuerySpec(
            "notifications.list",
            Action.ORG_READ,
            (),
            frozenset({EventKind.NOTIFICATIONS}),
            None,
            _notifications_list,
            user_scoped=True,
        ),
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
    for name in (*spec.args, *(o for o in spec.optional if o in args)):
        value = args.get(name)
        # An id no database could store (NUL) is refused here, as at the HTTP door.
        if not isinstance(value, str) or not 0 < len(value) <= 64 or "\x00" in value:
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
    if spec.user_scoped:
        async with store.global_(SYSTEM) as global_uow:
            return await spec.run(global_uow, args)  # type: ignore[arg-type]
    async with store.tenant(args["orgId"], SYSTEM) as uow:
        return await spec.run(uow, args)  # type: ignore[arg-type]
