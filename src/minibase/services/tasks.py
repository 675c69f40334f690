"""Tasks: a title, a status, maybe an assignee, a due date, a flow or one of its nodes.

Editors and admins create, change and delete tasks; every member reads them. An
assignee must be a member of the org, a node must be a node of the task's flow (both
checked when set). Assigning a task to someone else notifies them (``task_assigned``).

A task outlives what it is about: when its flow goes to the trash (or is purged) or its
node is deleted, the task keeps its ``flowId`` and ``nodeId`` and is listed with
``orphaned: true``, computed against the flows as they are now, as node comments are (so
it is no longer orphaned when the flow is restored or a node with that id comes back).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import and_

from minibase.domain.events import Event, EventKind
from minibase.domain.principal import Principal
from minibase.errors import NotFound, ValidationFailed
from minibase.ids import new_id, now_ms
from minibase.services import audit, flows
from minibase.services.audit import RequestMeta
from minibase.services.notification_hooks import actor_json
from minibase.services.notifications import NotificationKind, notify
from minibase.services.pagination import keyset, page
from minibase.store.tables import flows as flows_table
from minibase.store.tables import memberships, tasks
from minibase.store.unit_of_work import Store, TenantUnitOfWork

MAX_TITLE = 500
MAX_DESCRIPTION = 10_000


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


LiveNodes = dict[str, frozenset[str]]
"""The node ids of each live (not trashed) flow a set of tasks names."""


async def _live_nodes(uow: TenantUnitOfWork, rows: Sequence[Any]) -> LiveNodes:
    flow_ids = sorted({r.flow_id for r in rows if r.flow_id is not None})
    if not flow_ids:
        return {}
    f = flows_table.c
    found = (
        await uow.execute(
            uow.select(flows_table, f.id, f.document).where(
                f.id.in_(flow_ids), f.deleted_at.is_(None)
            )
        )
    ).all()
    sealer = await uow.sealer()
    documents = {r.id: sealer.open(f.document, r.id, r.document) for r in found}
    return {
        flow_id: frozenset(
            n["id"] for n in orjson.loads(document)["nodes"] if isinstance(n, dict) and "id" in n
        )
        for flow_id, document in documents.items()
    }


def _orphaned(row: Any, live: LiveNodes) -> bool:
    if row.flow_id is None:
        return False
    nodes = live.get(row.flow_id)
    return nodes is None or (row.node_id is not None and row.node_id not in nodes)


async def _render(uow: TenantUnitOfWork, row: Any) -> dict[str, Any]:
    return task_json(row, await _live_nodes(uow, [row]))


def task_json(row: Any, live: LiveNodes) -> dict[str, Any]:
    """A task as the API returns it; ``live`` tells whether its flow and node still exist."""
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "title": row.title,
        "description": row.description,
        "flowId": row.flow_id,
        "nodeId": row.node_id,
        "assigneeId": row.assignee_id,
        "dueAt": row.due_at,
        "status": row.status,
        "orphaned": _orphaned(row, live),
        "createdBy": row.created_by,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": "value_error"}])


async def _check_target(
    uow: TenantUnitOfWork, flow_id: str | None, node_id: str | None
) -> str | None:
    """The flow's name, after checking the flow and node exist (422 otherwise)."""
    if flow_id is None:
        if node_id is not None:
            raise _invalid("nodeId", "A node is named together with its flowId.")
        return None
    try:
        doc = orjson.loads((await flows.get_flow_in(uow, flow_id)).body)
    except NotFound:
        raise _invalid("flowId", "No such flow.") from None
    if node_id is not None and node_id not in {n.get("id") for n in doc["nodes"]}:
        raise _invalid("nodeId", "No such node in this flow.")
    return str(doc["name"])


async def _check_assignee(uow: TenantUnitOfWork, assignee_id: str | None) -> None:
    if assignee_id is None:
        return
    found = (
        await uow.execute(
            uow.select(memberships, memberships.c.user_id).where(
                memberships.c.user_id == assignee_id
            )
        )
    ).first()
    if found is None:
        raise _invalid("assigneeId", "Not a member of this organization.")


async def _load(uow: TenantUnitOfWork, task_id: str) -> Any:
    row = (await uow.execute(uow.select(tasks).where(tasks.c.id == task_id))).first()
    if row is None:
        raise NotFound("No such task.")
    return row


async def _notify_assignee(uow: TenantUnitOfWork, row: Any, flow_name: str | None) -> None:
    await notify(
        uow,
        [row.assignee_id],
        NotificationKind.TASK_ASSIGNED,
        {
            "taskId": row.id,
            "title": row.title,
            "flowId": row.flow_id,
            "flowName": flow_name,
            "nodeId": row.node_id,
            "dueAt": row.due_at,
            "by": await actor_json(uow),
        },
        org_id=uow.org_id,
        skip=[uow.principal.user_id],
    )


async def create_task(
    store: Store, org_id: str, principal: Principal, fields: dict[str, Any], meta: RequestMeta
) -> dict[str, Any]:
    async with store.tenant(org_id, principal, write=True) as uow:
        flow_name = await _check_target(uow, fields.get("flowId"), fields.get("nodeId"))
        await _check_assignee(uow, fields.get("assigneeId"))
        task_id = new_id("tsk")
        now = now_ms()
        await uow.execute(
            uow.insert(
                tasks,
                id=task_id,
                title=fields["title"],
                description=fields.get("description") or "",
                flow_id=fields.get("flowId"),
                node_id=fields.get("nodeId"),
                assignee_id=fields.get("assigneeId"),
                due_at=fields.get("dueAt"),
                status=str(fields.get("status") or TaskStatus.OPEN),
                created_by=principal.user_id or principal.id,
                created_at=now,
                updated_at=now,
            )
        )
        row = await _load(uow, task_id)
        await _notify_assignee(uow, row, flow_name)
        await audit.record(
            uow,
            "task.create",
            "task",
            task_id,
            meta=meta,
            details={"flowId": row.flow_id, "assigneeId": row.assignee_id},
        )
        uow.emit(Event(org_id, EventKind.TASKS, (task_id,)))
        return await _render(uow, row)


async def get_task(store: Store, org_id: str, principal: Principal, task_id: str) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return await _render(uow, await _load(uow, task_id))


async def list_tasks(
    store: Store,
    org_id: str,
    principal: Principal,
    *,
    assignee_id: str | None,
    flow_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return await list_tasks_in(
            uow, assignee_id=assignee_id, flow_id=flow_id, status=status, limit=limit, cursor=cursor
        )


async def list_tasks_in(
    uow: TenantUnitOfWork,
    *,
    assignee_id: str | None,
    flow_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Tasks, newest first, filtered by assignee, flow and status."""
    t = tasks.c
    conditions = []
    if assignee_id is not None:
        conditions.append(t.assignee_id == assignee_id)
    if flow_id is not None:
        conditions.append(t.flow_id == flow_id)
    if status is not None:
        conditions.append(t.status == status)
    stmt = uow.select(tasks)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    stmt = keyset(stmt, [t.created_at, t.id], cursor, limit, descending=True)
    rows = (await uow.execute(stmt)).all()
    live = await _live_nodes(uow, rows)
    return page(
        rows, limit, render=lambda r: task_json(r, live), key=lambda r: [r.created_at, r.id]
    )


async def update_task(
    store: Store,
    org_id: str,
    principal: Principal,
    task_id: str,
    changes: dict[str, Any],
    meta: RequestMeta,
) -> dict[str, Any]:
    """Set the fields given (``null`` clears the optional ones)."""
    async with store.tenant(org_id, principal, write=True) as uow:
        row = await _load(uow, task_id)
        flow_id = changes.get("flowId", row.flow_id)
        node_id = changes.get("nodeId", row.node_id if "flowId" not in changes else None)
        flow_name = None
        if "flowId" in changes or "nodeId" in changes:
            flow_name = await _check_target(uow, flow_id, node_id)
        if "assigneeId" in changes:
            await _check_assignee(uow, changes["assigneeId"])
        columns = {
            "title": "title",
            "description": "description",
            "assigneeId": "assignee_id",
            "dueAt": "due_at",
            "status": "status",
        }
        values: dict[str, Any] = {
            column: changes[field] for field, column in columns.items() if field in changes
        }
        if "description" in values and values["description"] is None:
            values["description"] = ""
        if "status" in values:
            values["status"] = str(values["status"])
        values.update(flow_id=flow_id, node_id=node_id, updated_at=now_ms())
        await uow.execute(uow.update(tasks).where(tasks.c.id == task_id).values(values))
        updated = await _load(uow, task_id)
        if updated.assignee_id is not None and updated.assignee_id != row.assignee_id:
            if flow_name is None and updated.flow_id is not None:
                try:
                    flow_name = await _check_target(uow, updated.flow_id, None)
                except ValidationFailed:  # the flow was deleted since
                    flow_name = None
            await _notify_assignee(uow, updated, flow_name)
        await audit.record(
            uow, "task.update", "task", task_id, meta=meta, details={"fields": sorted(changes)}
        )
        uow.emit(Event(org_id, EventKind.TASKS, (task_id,)))
        return await _render(uow, updated)


async def delete_task(
    store: Store, org_id: str, principal: Principal, task_id: str, meta: RequestMeta
) -> None:
    async with store.tenant(org_id, principal, write=True) as uow:
        await _load(uow, task_id)
        await uow.execute(uow.delete(tasks).where(tasks.c.id == task_id))
        await audit.record(uow, "task.delete", "task", task_id, meta=meta)
        uow.emit(Event(org_id, EventKind.TASKS, (task_id,)))
