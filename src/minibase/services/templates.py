"""Flow templates: saved from a flow (or given inline), listed, instantiated as new flows,
exported as a file and imported from one.

A template holds a document (``{nodes, edges}``) validated as a flow's would be; its bytes
count in the org's storage. Instantiating creates a flow through the flows service, so
the org's quotas and allowed node types apply as for any new flow.
"""

from __future__ import annotations

from typing import Any

import orjson

from minibase.config import Settings
from minibase.domain.events import Event, EventKind
from minibase.domain.principal import Principal
from minibase.errors import NotFound, ValidationFailed
from minibase.ids import new_id, now_ms
from minibase.services import audit, flows
from minibase.services.audit import RequestMeta
from minibase.services.flow_render import FlowResult
from minibase.services.pagination import keyset, page
from minibase.services.usage import charge
from minibase.store.tables import templates
from minibase.store.unit_of_work import Store, TenantUnitOfWork

FILE_FORMAT = "minibase-template"
FORMAT_VERSION = 1
MAX_TAGS = 20


def template_json(row: Any, *, with_document: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "organizationId": row.organization_id,
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "nodeCount": row.node_count,
        "edgeCount": row.edge_count,
        "sourceFlowId": row.source_flow_id,
        "createdBy": row.created_by,
        "createdAt": row.created_at,
    }
    if with_document:
        body.update(orjson.loads(row.document))
    return body


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": "value_error"}])


async def _load(uow: TenantUnitOfWork, template_id: str) -> Any:
    row = (await uow.execute(uow.select(templates).where(templates.c.id == template_id))).first()
    if row is None:
        raise NotFound("No such template.")
    return (await uow.sealer()).open_row(templates, row)


async def create_template(
    store: Store,
    settings: Settings,
    org_id: str,
    principal: Principal,
    *,
    name: str,
    description: str,
    tags: list[str],
    flow_id: str | None,
    flow: Any,
    meta: RequestMeta,
) -> dict[str, Any]:
    """A template from one of the org's flows (``flow_id``) or a document (``flow``)."""
    if (flow_id is None) == (flow is None):
        raise _invalid("flowId", "Give exactly one of flowId and flow.")
    async with store.tenant(org_id, principal, write=True) as uow:
        if flow_id is not None:
            flow = orjson.loads((await flows.get_flow_in(uow, flow_id)).body)
        if not isinstance(flow, dict):
            raise _invalid("flow", "An object with nodes and edges.")
        doc = flows.validate_document(
            settings, {"name": name, "nodes": flow.get("nodes", []), "edges": flow.get("edges", [])}
        )
        return await _insert(uow, name, description, tags, doc, flow_id, meta)


async def _insert(
    uow: TenantUnitOfWork,
    name: str,
    description: str,
    tags: list[str],
    doc: dict[str, Any],
    source_flow_id: str | None,
    meta: RequestMeta,
) -> dict[str, Any]:
    document = orjson.dumps({"nodes": doc["nodes"], "edges": doc["edges"]})
    await charge(uow, storage=len(document))
    template_id = new_id("tpl")
    principal = uow.principal
    row = {
        "id": template_id,
        "name": name,
        "description": description,
        "tags": tags,
        "document": document,
        "node_count": len(doc["nodes"]),
        "edge_count": len(doc["edges"]),
        "size_bytes": len(document),
        "source_flow_id": source_flow_id,
        "created_by": principal.user_id or principal.id,
        "created_at": now_ms(),
    }
    await uow.execute(uow.insert(templates, **(await uow.sealer()).seal_values(templates, row)))
    await audit.record(
        uow,
        "template.create",
        "template",
        template_id,
        meta=meta,
        details={"name": name, "sourceFlowId": source_flow_id, "bytes": len(document)},
    )
    uow.emit(Event(uow.org_id, EventKind.TEMPLATES, (template_id,)))
    uow.emit(Event(uow.org_id, EventKind.USAGE))
    return template_json(await _load(uow, template_id), with_document=True)


async def list_templates(
    store: Store, org_id: str, principal: Principal, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Templates, newest first (without their documents)."""
    t = templates.c
    async with store.tenant(org_id, principal) as uow:
        stmt = keyset(uow.select(templates), [t.created_at, t.id], cursor, limit, descending=True)
        rows = (await uow.execute(stmt)).all()
    return page(rows, limit, render=template_json, key=lambda r: [r.created_at, r.id])


async def get_template(
    store: Store, org_id: str, principal: Principal, template_id: str
) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        return template_json(await _load(uow, template_id), with_document=True)


async def delete_template(
    store: Store, org_id: str, principal: Principal, template_id: str, meta: RequestMeta
) -> None:
    async with store.tenant(org_id, principal, write=True) as uow:
        row = await _load(uow, template_id)
        await uow.execute(uow.delete(templates).where(templates.c.id == template_id))
        await charge(uow, storage=-row.size_bytes)
        await audit.record(uow, "template.delete", "template", template_id, meta=meta)
        uow.emit(Event(uow.org_id, EventKind.TEMPLATES, (template_id,)))
        uow.emit(Event(uow.org_id, EventKind.USAGE))


async def instantiate(
    store: Store,
    settings: Settings,
    org_id: str,
    principal: Principal,
    template_id: str,
    name: str,
    meta: RequestMeta,
) -> FlowResult:
    """A new flow from the template (quota- and type-checked like any new flow)."""
    async with store.tenant(org_id, principal) as uow:
        row = await _load(uow, template_id)
    doc = orjson.loads(row.document)
    return await flows.create_flow(
        store,
        settings,
        org_id,
        principal,
        {"name": name, "nodes": doc["nodes"], "edges": doc["edges"]},
        meta,
    )


async def export_template(
    store: Store, org_id: str, principal: Principal, template_id: str
) -> dict[str, Any]:
    """The template as a file (see docs/together.md for its format)."""
    async with store.tenant(org_id, principal) as uow:
        row = await _load(uow, template_id)
    doc = orjson.loads(row.document)
    return {
        "format": FILE_FORMAT,
        "formatVersion": FORMAT_VERSION,
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "nodes": doc["nodes"],
        "edges": doc["edges"],
    }


def _check_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise _invalid("tags", f"A list of at most {MAX_TAGS} tags.")
    if not all(isinstance(t, str) and 0 < len(t) <= 50 for t in tags):
        raise _invalid("tags", "Tags are strings of 1 to 50 characters.")
    return list(tags)


async def import_template(
    store: Store,
    settings: Settings,
    org_id: str,
    principal: Principal,
    file: dict[str, Any],
    meta: RequestMeta,
) -> dict[str, Any]:
    """A template from an exported file (422 for another format or a newer version)."""
    if file.get("format") != FILE_FORMAT:
        raise _invalid("format", f'Not a template file (format must be "{FILE_FORMAT}").')
    version = file.get("formatVersion")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _invalid("formatVersion", "A positive integer.")
    if version > FORMAT_VERSION:
        raise _invalid(
            "formatVersion",
            f"The file has format version {version}; this server reads up to {FORMAT_VERSION}.",
        )
    name = file.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 500:
        raise _invalid("name", "A name of 1 to 500 characters.")
    description = file.get("description") or ""
    if not isinstance(description, str) or len(description) > 10_000:
        raise _invalid("description", "Text of at most 10,000 characters.")
    tags = _check_tags(file.get("tags") or [])
    doc = flows.validate_document(
        settings, {"name": name, "nodes": file.get("nodes", []), "edges": file.get("edges", [])}
    )
    async with store.tenant(org_id, principal, write=True) as uow:
        return await _insert(uow, name, description, tags, doc, None, meta)
