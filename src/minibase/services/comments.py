"""Comments on a flow or one of its nodes: threads, replies, mentions, resolve and reopen.

A thread is a top-level comment and its replies (a reply names the thread's first
comment as ``parentId``; replying to a reply joins the same thread). A node comment is
anchored by the node's id, so it follows the node wherever it moves; when the node is
deleted the comment is kept and listed with ``orphaned: true`` (computed against the
flow as it is now, so it comes back if the node does).

Who may comment is the org's ``settings.commentsBy`` (the lowest role allowed; viewers
by default). The author edits the body; editors and admins resolve and reopen threads;
the author or an admin deletes (a thread's first comment takes its replies with it).
``@email`` mentions of members notify them (``mention``); other mentions stay plain
text. A reply notifies the thread's other participants (``comment_reply``).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import and_

from minibase.domain.events import Event, EventKind
from minibase.domain.mentions import mentioned_emails
from minibase.domain.principal import Principal
from minibase.domain.roles import Action, Role, at_least, is_allowed
from minibase.errors import Forbidden, NotFound, ValidationFailed
from minibase.ids import new_id, now_ms
from minibase.services import audit, flows
from minibase.services.audit import RequestMeta
from minibase.services.notification_hooks import actor_json
from minibase.services.notifications import NotificationKind, notify
from minibase.services.orgs import load_org
from minibase.services.pagination import keyset, page
from minibase.store.tables import comments, memberships, users
from minibase.store.unit_of_work import Store, TenantUnitOfWork

MAX_BODY = 10_000
"""Characters in one comment's body."""

EXCERPT = 280


class FlowView:
    """The flow a comment belongs to, as it is now: its name and node ids."""

    def __init__(self, body: bytes) -> None:
        doc = orjson.loads(body)
        self.name: str = doc["name"]
        self.node_ids = {n["id"] for n in doc["nodes"] if isinstance(n, dict) and "id" in n}


async def _flow(uow: TenantUnitOfWork, flow_id: str) -> FlowView:
    return FlowView((await flows.get_flow_in(uow, flow_id)).body)


def _comment_json(row: Any, flow: FlowView) -> dict[str, Any]:
    return {
        "id": row.id,
        "flowId": row.flow_id,
        "nodeId": row.node_id,
        "parentId": row.parent_id,
        "author": {"id": row.author_id, "email": row.author_email, "name": row.author_name},
        "body": row.body,
        "mentions": row.mentions,
        "resolved": bool(row.resolved),
        "resolvedBy": row.resolved_by,
        "resolvedAt": row.resolved_at,
        "orphaned": row.node_id is not None and row.node_id not in flow.node_ids,
        "createdAt": row.created_at,
        "editedAt": row.edited_at,
    }


def _select(uow: TenantUnitOfWork) -> Any:
    return uow.select(
        comments,
        *comments.c,
        users.c.email.label("author_email"),
        users.c.name.label("author_name"),
    ).outerjoin(users, users.c.id == comments.c.author_id)


async def _load(uow: TenantUnitOfWork, flow_id: str, comment_id: str) -> Any:
    row = (
        await uow.execute(
            _select(uow).where(comments.c.flow_id == flow_id, comments.c.id == comment_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such comment.")
    return (await uow.sealer()).open_row(comments, row)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": "value_error"}])


def _clean_body(body: str) -> str:
    if not body.strip():
        raise _invalid("body", "A comment needs some text.")
    if len(body) > MAX_BODY:
        raise _invalid("body", f"At most {MAX_BODY} characters.")
    return body


async def _may_comment(uow: TenantUnitOfWork, role: Role) -> None:
    minimum = (await load_org(uow)).settings.get("commentsBy") or Role.VIEWER.value
    if not at_least(role, Role(minimum)):
        raise Forbidden(f"This organization lets only {minimum}s and above comment.")


async def _members_by_email(uow: TenantUnitOfWork, emails: list[str]) -> list[dict[str, Any]]:
    """The members among ``emails`` as ``{id, email, name}``, in the order given."""
    if not emails:
        return []
    rows = (
        await uow.execute(
            uow.select(memberships, users.c.id, users.c.email, users.c.name)
            .join(users, users.c.id == memberships.c.user_id)
            .where(users.c.email.in_(emails))
        )
    ).all()
    found = {row.email: {"id": row.id, "email": row.email, "name": row.name} for row in rows}
    return [found[e] for e in emails if e in found]


def _excerpt(body: str) -> str:
    return body if len(body) <= EXCERPT else body[: EXCERPT - 1] + "…"


async def create_comment(
    store: Store,
    org_id: str,
    principal: Principal,
    role: Role,
    flow_id: str,
    *,
    body: str,
    node_id: str | None,
    parent_id: str | None,
    meta: RequestMeta,
) -> dict[str, Any]:
    body = _clean_body(body)
    async with store.tenant(org_id, principal, write=True) as uow:
        await _may_comment(uow, role)
        flow = await _flow(uow, flow_id)
        thread: list[Any] = []
        if parent_id is not None:
            try:
                parent = await _load(uow, flow_id, parent_id)
            except NotFound:
                raise _invalid("parentId", "No such comment on this flow.") from None
            if parent.parent_id is not None:
                parent = await _load(uow, flow_id, parent.parent_id)
            parent_id = parent.id
            if node_id is not None and node_id != parent.node_id:
                raise _invalid("nodeId", "A reply is on its thread's node.")
            node_id = parent.node_id
            thread = [parent, *await _replies(uow, [parent.id])]
        elif node_id is not None and node_id not in flow.node_ids:
            raise _invalid("nodeId", "No such node in this flow.")
        author = await actor_json(uow)
        mentions = await _members_by_email(uow, mentioned_emails(body))
        comment_id = new_id("cmt")
        now = now_ms()
        await uow.execute(
            uow.insert(
                comments,
                id=comment_id,
                flow_id=flow_id,
                node_id=node_id,
                parent_id=parent_id,
                author_id=author["id"],
                body=(await uow.sealer()).seal_value(comments.c.body, comment_id, body),
                mentions=mentions,
                resolved=False,
                resolved_by=None,
                resolved_at=None,
                created_at=now,
                edited_at=None,
            )
        )
        data = {
            "flowId": flow_id,
            "flowName": flow.name,
            "commentId": comment_id,
            "nodeId": node_id,
            "by": author,
            "excerpt": _excerpt(body),
        }
        mentioned = await notify(
            uow,
            [m["id"] for m in mentions],
            NotificationKind.MENTION,
            data,
            org_id=org_id,
            skip=[author["id"]],
        )
        await notify(
            uow,
            [c.author_id for c in thread],
            NotificationKind.COMMENT_REPLY,
            {**data, "parentId": parent_id},
            org_id=org_id,
            skip=[author["id"], *mentioned],
        )
        await audit.record(
            uow,
            "comment.create",
            "comment",
            comment_id,
            meta=meta,
            details={"flowId": flow_id, "nodeId": node_id, "parentId": parent_id},
        )
        uow.emit(Event(org_id, EventKind.COMMENTS, (flow_id,)))
        return _comment_json(await _load(uow, flow_id, comment_id), flow)


async def _replies(uow: TenantUnitOfWork, root_ids: list[str]) -> list[Any]:
    if not root_ids:
        return []
    stmt = (
        _select(uow)
        .where(comments.c.parent_id.in_(root_ids))
        .order_by(comments.c.created_at, comments.c.id)
    )
    sealer = await uow.sealer()
    return [sealer.open_row(comments, row) for row in (await uow.execute(stmt)).all()]


async def list_comments(
    store: Store,
    org_id: str,
    principal: Principal,
    flow_id: str,
    *,
    node_id: str | None,
    resolved: bool | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return await list_comments_in(
            uow, flow_id, node_id=node_id, resolved=resolved, limit=limit, cursor=cursor
        )


async def list_comments_in(
    uow: TenantUnitOfWork,
    flow_id: str,
    *,
    node_id: str | None,
    resolved: bool | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """The flow's threads, oldest first: each first comment with its ``replies``."""
    flow = await _flow(uow, flow_id)
    c = comments.c
    conditions = [c.flow_id == flow_id, c.parent_id.is_(None)]
    if node_id is not None:
        conditions.append(c.node_id == node_id)
    if resolved is not None:
        conditions.append(c.resolved == resolved)
    stmt = keyset(_select(uow).where(and_(*conditions)), [c.created_at, c.id], cursor, limit)
    sealer = await uow.sealer()
    roots = [sealer.open_row(comments, row) for row in (await uow.execute(stmt)).all()]
    replies: dict[str, list[dict[str, Any]]] = {}
    for reply in await _replies(uow, [r.id for r in roots[:limit]]):
        replies.setdefault(reply.parent_id, []).append(_comment_json(reply, flow))

    def render(row: Any) -> dict[str, Any]:
        return {**_comment_json(row, flow), "replies": replies.get(row.id, [])}

    return page(roots, limit, render=render, key=lambda r: [r.created_at, r.id])


async def update_comment(
    store: Store,
    org_id: str,
    principal: Principal,
    role: Role,
    flow_id: str,
    comment_id: str,
    *,
    body: str | None,
    resolved: bool | None,
    meta: RequestMeta,
) -> dict[str, Any]:
    """The author changes the body; editors and admins resolve or reopen a thread."""
    if body is not None:
        body = _clean_body(body)
    async with store.tenant(org_id, principal, write=True) as uow:
        flow = await _flow(uow, flow_id)
        row = await _load(uow, flow_id, comment_id)
        values: dict[str, Any] = {}
        details: dict[str, Any] = {"flowId": flow_id}
        if body is not None and body != row.body:
            if row.author_id != _actor_id(uow):
                raise Forbidden("Only its author may edit a comment.")
            await _may_comment(uow, role)
            mentions = await _members_by_email(uow, mentioned_emails(body))
            known = {m["id"] for m in row.mentions}
            author = await actor_json(uow)
            await notify(
                uow,
                [m["id"] for m in mentions if m["id"] not in known],
                NotificationKind.MENTION,
                {
                    "flowId": flow_id,
                    "flowName": flow.name,
                    "commentId": comment_id,
                    "nodeId": row.node_id,
                    "by": author,
                    "excerpt": _excerpt(body),
                },
                org_id=org_id,
                skip=[author["id"]],
            )
            sealed = (await uow.sealer()).seal_value(comments.c.body, comment_id, body)
            values.update(body=sealed, mentions=mentions, edited_at=now_ms())
            details["edited"] = True
        if resolved is not None and resolved != bool(row.resolved):
            if not is_allowed(role, Action.COMMENTS_RESOLVE):
                raise Forbidden(f"The {role.value} role may not {Action.COMMENTS_RESOLVE.value}.")
            if row.parent_id is not None:
                raise _invalid("resolved", "Resolve the thread's first comment.")
            values.update(
                resolved=resolved,
                resolved_by=_actor_id(uow) if resolved else None,
                resolved_at=now_ms() if resolved else None,
            )
            details["resolved"] = resolved
        if values:
            await uow.execute(
                uow.update(comments).where(comments.c.id == comment_id).values(values)
            )
            await audit.record(
                uow, "comment.update", "comment", comment_id, meta=meta, details=details
            )
            uow.emit(Event(org_id, EventKind.COMMENTS, (flow_id,)))
            row = await _load(uow, flow_id, comment_id)
        return _comment_json(row, flow)


def _actor_id(uow: TenantUnitOfWork) -> str:
    return uow.principal.user_id or uow.principal.id


async def delete_comment(
    store: Store,
    org_id: str,
    principal: Principal,
    role: Role,
    flow_id: str,
    comment_id: str,
    meta: RequestMeta,
) -> None:
    """The author or an admin deletes; a thread's first comment takes its replies along."""
    async with store.tenant(org_id, principal, write=True) as uow:
        await _flow(uow, flow_id)
        row = await _load(uow, flow_id, comment_id)
        if row.author_id != _actor_id(uow) and not is_allowed(role, Action.COMMENTS_MODERATE):
            raise Forbidden("Only its author or an admin may delete a comment.")
        c = comments.c
        await uow.execute(uow.delete(comments).where(c.parent_id == comment_id))
        await uow.execute(uow.delete(comments).where(c.id == comment_id))
        await audit.record(
            uow, "comment.delete", "comment", comment_id, meta=meta, details={"flowId": flow_id}
        )
        uow.emit(Event(org_id, EventKind.COMMENTS, (flow_id,)))
