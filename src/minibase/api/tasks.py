"""``/v1/orgs/{orgId}/tasks``: tasks tied to a flow or a node, with assignee and due date."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from starlette.responses import Response

from minibase.api.deps import OrgAccess, Require, app_context
from minibase.api.schemas import Body
from minibase.api.shapes import IN_ORG, WRITE
from minibase.domain.roles import Action
from minibase.http.responses import json_response
from minibase.services import tasks
from minibase.services.tasks import MAX_DESCRIPTION, MAX_TITLE, TaskStatus

router = APIRouter(prefix="/v1/orgs/{orgId}/tasks", tags=["tasks"], responses=IN_ORG)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
Writer = Annotated[OrgAccess, Depends(Require(Action.TASKS_WRITE))]
TaskId = Annotated[str, Path(alias="taskId", min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Millis = Annotated[int, Field(ge=0, le=253_402_300_799_999)]


class TaskBody(Body):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    flowId: Id | None = None
    nodeId: str | None = Field(None, min_length=1, max_length=256)
    assigneeId: Id | None = None
    dueAt: Millis | None = None
    status: TaskStatus = TaskStatus.OPEN


class TaskPatch(Body):
    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    flowId: Id | None = None
    nodeId: str | None = Field(None, min_length=1, max_length=256)
    assigneeId: Id | None = None
    dueAt: Millis | None = None
    status: TaskStatus | None = None


@router.post("", status_code=201, summary="Create a task (editors and admins)", responses=WRITE)
async def create_task(body: TaskBody, request: Request, access: Writer) -> Response:
    task = await tasks.create_task(
        app_context(request).store,
        access.org_id,
        access.principal,
        body.model_dump(exclude_unset=True),
        access.meta,
    )
    return json_response(task, status_code=201)


@router.get("", summary="Tasks, newest first (filters: assigneeId, flowId, status)")
async def list_tasks(
    request: Request,
    access: Reader,
    assignee_id: Annotated[str | None, Query(alias="assigneeId", max_length=64)] = None,
    flow_id: Annotated[str | None, Query(alias="flowId", max_length=64)] = None,
    status: TaskStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    result = await tasks.list_tasks(
        app_context(request).store,
        access.org_id,
        access.principal,
        assignee_id=assignee_id,
        flow_id=flow_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return json_response(result)


@router.get("/{taskId}", summary="One task")
async def get_task(request: Request, task_id: TaskId, access: Reader) -> Response:
    task = await tasks.get_task(
        app_context(request).store, access.org_id, access.principal, task_id
    )
    return json_response(task)


@router.patch(
    "/{taskId}", summary="Change a task (editors and admins); null clears a field", responses=WRITE
)
async def update_task(
    body: TaskPatch, request: Request, task_id: TaskId, access: Writer
) -> Response:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("title", "") is None:
        changes.pop("title")
    if "status" in changes and changes["status"] is None:
        changes.pop("status")
    task = await tasks.update_task(
        app_context(request).store, access.org_id, access.principal, task_id, changes, access.meta
    )
    return json_response(task)


@router.delete("/{taskId}", status_code=204, summary="Delete a task (editors and admins)")
async def delete_task(request: Request, task_id: TaskId, access: Writer) -> Response:
    await tasks.delete_task(
        app_context(request).store, access.org_id, access.principal, task_id, access.meta
    )
    return Response(status_code=204)
