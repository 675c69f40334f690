"""Copy a flow into another org, and paste nodes and edges into a flow of another org.

The caller must be allowed to write flows in both orgs (an API key, bound to one org,
never is). The target's rules apply because the write goes through the flows service
of the target: its quotas, its allowed node types, the flow limits. Each side gets an
audit row (``flow.copy_out`` / ``flow.copy_in``, ``flow.paste_out`` / ``flow.paste_in``)
besides the target's own ``flow.create`` or ``flow.patch``.

``POST /v1/orgs/{orgId}/clipboard/paste`` reads its path org either way: as the target
when ``targetFlowId`` is one of its flows (``sourceOrgId`` then names where the selection
came from), or as the source, like ``.../copy``, when the flow is in another org of the
caller (named by ``targetOrgId``, or found among the caller's orgs by the flow's id).

Pasted node and edge ids are remapped where they clash with the target flow's (``n1``
becomes ``n1-copy``, then ``n1-copy-2`` ...); edges follow their nodes; an edge whose
ends are not both among the pasted nodes is skipped. The answer lists the mapping.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from minibase.config import Settings
from minibase.domain.principal import Principal
from minibase.domain.roles import Action, is_allowed
from minibase.errors import Forbidden, NotFound, ValidationFailed
from minibase.services import audit, flows
from minibase.services.audit import RequestMeta
from minibase.services.flow_render import FlowResult
from minibase.services.orgs import role_in
from minibase.store.tables import memberships
from minibase.store.unit_of_work import Store


async def require_writer(store: Store, org_id: str, principal: Principal) -> None:
    """404 when the caller is not in ``org_id``, 403 when they may not write flows there."""
    role = await role_in(store, org_id, principal)
    if not is_allowed(role, Action.FLOWS_WRITE):
        raise Forbidden(f"The {role.value} role may not {Action.FLOWS_WRITE.value} there.")


async def _read(store: Store, org_id: str, principal: Principal, flow_id: str) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return dict(orjson.loads((await flows.get_flow_in(uow, flow_id)).body))


async def copy_flow(
    store: Store,
    settings: Settings,
    source_org_id: str,
    principal: Principal,
    flow_id: str,
    target_org_id: str,
    name: str | None,
    meta: RequestMeta,
) -> FlowResult:
    """A new flow in ``target_org_id`` equal to the source flow as it is now."""
    await require_writer(store, target_org_id, principal)
    source = await _read(store, source_org_id, principal, flow_id)
    result = await flows.create_flow(
        store,
        settings,
        target_org_id,
        principal,
        {"name": name or source["name"], "nodes": source["nodes"], "edges": source["edges"]},
        meta,
    )
    new_id = orjson.loads(result.body)["id"]
    await audit.record_separately(
        store,
        target_org_id,
        principal,
        "flow.copy_in",
        "flow",
        new_id,
        meta=meta,
        outcome="success",
        details={"sourceOrgId": source_org_id, "sourceFlowId": flow_id},
    )
    await audit.record_separately(
        store,
        source_org_id,
        principal,
        "flow.copy_out",
        "flow",
        flow_id,
        meta=meta,
        outcome="success",
        details={"targetOrgId": target_org_id, "targetFlowId": new_id},
    )
    return result


def _fresh(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        taken.add(wanted)
        return wanted
    n = 1
    while True:
        candidate = f"{wanted}-copy" if n == 1 else f"{wanted}-copy-{n}"
        if candidate not in taken and len(candidate) <= 256:
            taken.add(candidate)
            return candidate
        n += 1


def _entities(value: Any, field: str, limit: int) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > limit:
        raise ValidationFailed(
            [{"field": field, "message": f"A list of at most {limit} objects.", "type": "list"}]
        )
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ValidationFailed(
                [{"field": f"{field}.{i}.id", "message": "An id string.", "type": "string_type"}]
            )
    return value


async def _flow_orgs(store: Store, principal: Principal, flow_id: str, skip: str) -> list[str]:
    """The caller's orgs (other than ``skip``) that hold a flow ``flow_id``."""
    if principal.user_id is None:
        return []  # an API key is bound to its org
    async with store.global_(principal) as uow:
        org_ids = (
            await uow.execute(
                select(memberships.c.organization_id).where(
                    memberships.c.user_id == principal.user_id
                )
            )
        ).scalars()
        candidates = sorted(set(org_ids) - {skip})
    found = []
    for org_id in candidates:
        async with store.tenant(org_id, principal) as tenant:
            try:
                await flows.get_flow_in(tenant, flow_id)
            except NotFound:
                continue
        found.append(org_id)
    return found


async def paste_orgs(
    store: Store,
    path_org_id: str,
    principal: Principal,
    target_flow_id: str,
    *,
    target_org_id: str | None,
    source_org_id: str | None,
) -> tuple[str, str | None]:
    """``(target org, source org)`` of a paste called on ``path_org_id`` (see the module).

    The caller may write flows in the path org (the route checked it) and must in the
    other one: 404 when not a member there, 403 when a viewer.
    """
    if target_org_id is None or target_org_id == path_org_id:
        try:
            await _read(store, path_org_id, principal, target_flow_id)
        except NotFound:
            if target_org_id is not None:
                raise
            elsewhere = await _flow_orgs(store, principal, target_flow_id, path_org_id)
            if not elsewhere:
                raise
            if len(elsewhere) > 1:  # orgs imported keeping their ids share flow ids
                raise ValidationFailed(
                    [
                        {
                            "field": "targetOrgId",
                            "message": "Several of your orgs hold this flow id: name one.",
                            "type": "missing",
                        }
                    ]
                ) from None
            target_org_id = elsewhere[0]
        else:
            if source_org_id is not None and source_org_id != path_org_id:
                await require_writer(store, source_org_id, principal)
            return path_org_id, source_org_id
    # The path org is the source, as for ``.../copy``.
    if source_org_id is not None and source_org_id != path_org_id:
        raise ValidationFailed(
            [
                {
                    "field": "sourceOrgId",
                    "message": "Pasting into another org, the path names the source org.",
                    "type": "value_error",
                }
            ]
        )
    await require_writer(store, target_org_id, principal)
    return target_org_id, path_org_id


async def paste(
    store: Store,
    settings: Settings,
    target_org_id: str,
    principal: Principal,
    target_flow_id: str,
    nodes: Any,
    edges: Any,
    *,
    source_org_id: str | None,
    source_flow_id: str | None,
    meta: RequestMeta,
) -> dict[str, Any]:
    """Add ``nodes`` and ``edges`` to the target flow as one new version (the caller may
    write flows in both orgs: see :func:`paste_orgs`)."""
    pasted_nodes = _entities(nodes, "nodes", settings.max_flow_nodes)
    pasted_edges = _entities(edges, "edges", settings.max_flow_edges)
    target = await _read(store, target_org_id, principal, target_flow_id)
    node_ids = {n["id"] for n in target["nodes"]}
    edge_ids = {e["id"] for e in target["edges"]}
    node_map: dict[str, str] = {}
    ops: list[dict[str, Any]] = []
    for node in pasted_nodes:
        new = _fresh(node["id"], node_ids)
        node_map[node["id"]] = new
        ops.append({"op": "addNode", "node": {**node, "id": new}})
    edge_map: dict[str, str] = {}
    skipped: list[str] = []
    for edge in pasted_edges:
        source, target_end = edge.get("source"), edge.get("target")
        if source not in node_map or target_end not in node_map:
            skipped.append(edge["id"])
            continue
        new = _fresh(edge["id"], edge_ids)
        edge_map[edge["id"]] = new
        ops.append(
            {
                "op": "addEdge",
                "edge": {
                    **edge,
                    "id": new,
                    "source": node_map[source],
                    "target": node_map[target_end],
                },
            }
        )
    result = await flows.patch_flow(
        store, settings, target_org_id, principal, target_flow_id, ops, meta
    )
    details = {
        "nodes": len(node_map),
        "edges": len(edge_map),
        "sourceOrgId": source_org_id,
        "sourceFlowId": source_flow_id,
    }
    await audit.record_separately(
        store,
        target_org_id,
        principal,
        "flow.paste_in",
        "flow",
        target_flow_id,
        meta=meta,
        outcome="success",
        details=details,
    )
    if source_org_id is not None and source_org_id != target_org_id:
        await audit.record_separately(
            store,
            source_org_id,
            principal,
            "flow.paste_out",
            "flow",
            source_flow_id,
            meta=meta,
            outcome="success",
            details={**details, "targetOrgId": target_org_id, "targetFlowId": target_flow_id},
        )
    return {
        "flow": orjson.loads(result.body),
        "idMap": {"nodes": node_map, "edges": edge_map},
        "skippedEdges": skipped,
    }
