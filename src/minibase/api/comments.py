"""``/v1/orgs/{orgId}/flows/{flowId}/comments``: threads on a flow or one of its nodes."""

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
from minibase.services import comments

router = APIRouter(
    prefix="/v1/orgs/{orgId}/flows/{flowId}/comments", tags=["comments"], responses=IN_ORG
)

Reader = Annotated[OrgAccess, Depends(Require(Action.FLOWS_READ))]
Commenter = Annotated[OrgAccess, Depends(Require(Action.COMMENTS_WRITE))]
FlowId = Annotated[str, Path(alias="flowId", min_length=1, max_length=64)]
CommentId = Annotated[str, Path(alias="commentId", min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]


class CommentBody(Body):
    body: str = Field(min_length=1, max_length=comments.MAX_BODY)
    nodeId: str | None = Field(None, min_length=1, max_length=256)
    parentId: str | None = Field(None, min_length=1, max_length=64)


class CommentPatch(Body):
    body: str | None = Field(None, min_length=1, max_length=comments.MAX_BODY)
    resolved: bool | None = None


@router.post(
    "", status_code=201, summary="Comment on the flow or a node, or reply", responses=WRITE
)
async def create_comment(
    body: CommentBody, request: Request, flow_id: FlowId, access: Commenter
) -> Response:
    created = await comments.create_comment(
        app_context(request).store,
        access.org_id,
        access.principal,
        access.role,
        flow_id,
        body=body.body,
        node_id=body.nodeId,
        parent_id=body.parentId,
        meta=access.meta,
    )
    return json_response(created, status_code=201)


@router.get("", summary="The flow's comment threads, oldest first")
async def list_comments(
    request: Request,
    flow_id: FlowId,
    access: Reader,
    node_id: Annotated[str | None, Query(alias="nodeId", max_length=256)] = None,
    resolved: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    result = await comments.list_comments(
        app_context(request).store,
        access.org_id,
        access.principal,
        flow_id,
        node_id=node_id,
        resolved=resolved,
        limit=limit,
        cursor=cursor,
    )
    return json_response(result)


@router.patch(
    "/{commentId}",
    summary="Edit the body (author), resolve or reopen (editors and admins)",
    responses=WRITE,
)
async def update_comment(
    body: CommentPatch,
    request: Request,
    flow_id: FlowId,
    comment_id: CommentId,
    access: Commenter,
) -> Response:
    updated = await comments.update_comment(
        app_context(request).store,
        access.org_id,
        access.principal,
        access.role,
        flow_id,
        comment_id,
        body=body.body,
        resolved=body.resolved,
        meta=access.meta,
    )
    return json_response(updated)


@router.delete("/{commentId}", status_code=204, summary="Delete a comment (author or admin)")
async def delete_comment(
    request: Request, flow_id: FlowId, comment_id: CommentId, access: Commenter
) -> Response:
    await comments.delete_comment(
        app_context(request).store,
        access.org_id,
        access.principal,
        access.role,
        flow_id,
        comment_id,
        access.meta,
    )
    return Response(status_code=204)
