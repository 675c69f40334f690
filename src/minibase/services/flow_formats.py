"""Flows and their outputs as JSON, CSV or XML (the seed's ``exportToFormat``).

For one flow or for every flow of an org (the trash left out), written as a stream: flows
and outputs are read a page at a time inside one read transaction. The layouts are in
docs/data.md, the XML schema in docs/flows-export.xsd.

- ``json``: ``{format: "minibase-flows", formatVersion, exportedAt, organizationId,
  flows: [...], outputs: [...]}``, each flow as the API returns it (with ``createdAt``),
  each output as ``GET .../outputs`` lists it;
- ``csv``: a zip of ``flows.csv``, ``nodes.csv``, ``edges.csv`` and ``outputs.csv`` (RFC
  4180, UTF-8, a header row; nested values as JSON text);
- ``xml``: ``<flows-export>`` in the namespace ``urn:minibase:flows-export:1``.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import orjson
from sqlalchemy import tuple_

from minibase.domain.byte_sink import ByteSink
from minibase.domain.principal import Principal
from minibase.errors import NotFound, UnsupportedFormat
from minibase.ids import now_ms
from minibase.store.tables import flows, node_outputs
from minibase.store.unit_of_work import Store, TenantUnitOfWork

Format = Literal["json", "csv", "xml"]
FORMATS: tuple[Format, ...] = ("json", "csv", "xml")
FORMAT_VERSION = 1
XML_NAMESPACE = "urn:minibase:flows-export:1"
PAGE = 200

MEDIA_TYPES = {"json": "application/json", "csv": "application/zip", "xml": "application/xml"}
EXTENSIONS = {"json": "json", "csv": "zip", "xml": "xml"}

FLOW_COLUMNS = ["id", "name", "version", "nodeCount", "edgeCount", "createdBy", "createdAt",
                "lastModified"]  # fmt: skip
NODE_COLUMNS = ["flowId", "id", "type", "positionX", "positionY", "data", "extra"]
EDGE_COLUMNS = ["flowId", "id", "source", "target", "sourceHandle", "targetHandle", "type",
                "data", "extra"]  # fmt: skip
OUTPUT_COLUMNS = ["id", "flowId", "nodeId", "timestamp", "computeTime", "runId", "cached",
                  "output"]  # fmt: skip
NODE_KEYS = {"id", "type", "position", "data"}
EDGE_KEYS = {"id", "source", "target", "sourceHandle", "targetHandle", "type", "data"}


def parse_format(value: str) -> Format:
    for known in FORMATS:
        if value == known:
            return known
    raise UnsupportedFormat(
        f"Unknown export format {value!r}: use json, csv or xml.",
        {"format": value, "supported": list(FORMATS)},
    )


@dataclass(frozen=True)
class Scope:
    org_id: str
    flow_id: str | None = None
    """One flow, or every flow of the org."""


def _flow_json(row: Any) -> dict[str, Any]:
    document = orjson.loads(row.document)
    return {
        "id": row.id,
        "organizationId": row.organization_id,
        "name": row.name,
        "version": row.version,
        "createdBy": row.created_by,
        "createdAt": row.created_at,
        "lastModified": row.last_modified,
        "nodes": document.get("nodes", []),
        "edges": document.get("edges", []),
    }


def _output_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "flowId": row.flow_id,
        "nodeId": row.node_id,
        "timestamp": row.timestamp,
        "computeTime": row.compute_time,
        "runId": row.run_id,
        "cached": bool(row.cached),
        "output": orjson.loads(row.output),
    }


async def _flows(uow: TenantUnitOfWork, scope: Scope) -> AsyncIterator[dict[str, Any]]:
    last: str | None = None
    while True:
        stmt = uow.select(flows).where(flows.c.deleted_at.is_(None)).order_by(flows.c.id)
        if scope.flow_id is not None:
            stmt = stmt.where(flows.c.id == scope.flow_id)
        if last is not None:
            stmt = stmt.where(flows.c.id > last)
        rows = (await uow.execute(stmt.limit(PAGE))).all()
        sealer = await uow.sealer()
        for row in rows:
            yield _flow_json(sealer.open_row(flows, row))
        if len(rows) < PAGE:
            return
        last = rows[-1].id


async def _outputs(uow: TenantUnitOfWork, scope: Scope) -> AsyncIterator[dict[str, Any]]:
    o = node_outputs.c
    live = uow.select(flows, flows.c.id).where(flows.c.deleted_at.is_(None))
    last: tuple[str, str] | None = None
    while True:
        stmt = uow.select(node_outputs).where(o.flow_id.in_(live.scalar_subquery()))
        if scope.flow_id is not None:
            stmt = stmt.where(o.flow_id == scope.flow_id)
        if last is not None:
            stmt = stmt.where(tuple_(o.flow_id, o.id) > tuple_(*last))
        rows = (await uow.execute(stmt.order_by(o.flow_id, o.id).limit(PAGE))).all()
        sealer = await uow.sealer()
        for row in rows:
            yield _output_json(sealer.open_row(node_outputs, row))
        if len(rows) < PAGE:
            return
        last = (rows[-1].flow_id, rows[-1].id)


def _text(value: Any) -> str:
    """A nested value as JSON text (CSV cells, XML element content)."""
    return orjson.dumps(value).decode("utf-8") if value is not None else ""


def _extra(entity: dict[str, Any], known: set[str]) -> str:
    rest = {k: v for k, v in entity.items() if k not in known}
    return _text(rest) if rest else ""


def node_row(flow_id: str, node: dict[str, Any]) -> list[Any]:
    position = node.get("position") or {}
    return [flow_id, node.get("id"), node.get("type", ""), position.get("x", ""),
            position.get("y", ""), _text(node.get("data")), _extra(node, NODE_KEYS)]  # fmt: skip


def edge_row(flow_id: str, edge: dict[str, Any]) -> list[Any]:
    return [flow_id, edge.get("id"), edge.get("source"), edge.get("target"),
            edge.get("sourceHandle") or "", edge.get("targetHandle") or "",
            edge.get("type", ""), _text(edge.get("data")), _extra(edge, EDGE_KEYS)]  # fmt: skip


def flow_row(flow: dict[str, Any]) -> list[Any]:
    return [flow["id"], flow["name"], flow["version"], len(flow["nodes"]), len(flow["edges"]),
            flow["createdBy"], flow["createdAt"], flow["lastModified"]]  # fmt: skip


def output_row(output: dict[str, Any]) -> list[Any]:
    return [output["id"], output["flowId"], output["nodeId"], output["timestamp"],
            output["computeTime"], output["runId"] or "", "true" if output["cached"] else "false",
            _text(output["output"])]  # fmt: skip


async def _require(uow: TenantUnitOfWork, scope: Scope) -> None:
    if scope.flow_id is None:
        return
    stmt = uow.select(flows, flows.c.id).where(
        flows.c.id == scope.flow_id, flows.c.deleted_at.is_(None)
    )
    if (await uow.execute(stmt)).first() is None:
        raise NotFound("No such flow.")


async def check_scope(store: Store, principal: Principal, scope: Scope) -> None:
    """``NotFound`` before the answer starts, when the one flow asked for is not there."""
    async with store.tenant(scope.org_id, principal) as uow:
        await _require(uow, scope)


async def export_flows(
    store: Store, principal: Principal, scope: Scope, fmt: Format
) -> AsyncIterator[bytes]:
    writer = {"json": _json, "csv": _csv, "xml": _xml}[fmt]
    async with store.tenant(scope.org_id, principal) as uow:
        async for chunk in writer(uow, scope):
            yield chunk


async def _json(uow: TenantUnitOfWork, scope: Scope) -> AsyncIterator[bytes]:
    head = {
        "format": "minibase-flows",
        "formatVersion": FORMAT_VERSION,
        "exportedAt": now_ms(),
        "organizationId": scope.org_id,
    }
    yield orjson.dumps(head)[:-1] + b',"flows":['
    first = True
    async for flow in _flows(uow, scope):
        yield (b"" if first else b",") + orjson.dumps(flow)
        first = False
    yield b'],"outputs":['
    first = True
    async for output in _outputs(uow, scope):
        yield (b"" if first else b",") + orjson.dumps(output)
        first = False
    yield b"]}"


async def _csv(uow: TenantUnitOfWork, scope: Scope) -> AsyncIterator[bytes]:
    sink = ByteSink()
    archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=6)

    async def table(
        name: str,
        header: list[str],
        rows: Callable[[], AsyncIterator[Iterable[list[Any]]]],
    ) -> AsyncIterator[bytes]:
        with archive.open(name, "w", force_zip64=True) as member:
            text = io.TextIOWrapper(member, encoding="utf-8", newline="")
            out = csv.writer(text, lineterminator="\r\n")
            out.writerow(header)
            async for group in rows():
                out.writerows(group)
                text.flush()
                yield sink.drain()
            text.flush()
            text.detach()
        yield sink.drain()

    async def flow_rows() -> AsyncIterator[Iterable[list[Any]]]:
        async for flow in _flows(uow, scope):
            yield [flow_row(flow)]

    async def node_rows() -> AsyncIterator[Iterable[list[Any]]]:
        async for flow in _flows(uow, scope):
            yield [node_row(flow["id"], n) for n in flow["nodes"]]

    async def edge_rows() -> AsyncIterator[Iterable[list[Any]]]:
        async for flow in _flows(uow, scope):
            yield [edge_row(flow["id"], e) for e in flow["edges"]]

    async def output_rows() -> AsyncIterator[Iterable[list[Any]]]:
        async for output in _outputs(uow, scope):
            yield [output_row(output)]

    for name, header, rows in (
        ("flows.csv", FLOW_COLUMNS, flow_rows),
        ("nodes.csv", NODE_COLUMNS, node_rows),
        ("edges.csv", EDGE_COLUMNS, edge_rows),
        ("outputs.csv", OUTPUT_COLUMNS, output_rows),
    ):
        async for chunk in table(name, header, rows):
            if chunk:
                yield chunk
    archive.close()
    yield sink.drain()


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(value: str) -> str:
    """Characters XML 1.0 cannot hold (control characters) become U+FFFD."""
    return _NOT_XML.sub("\ufffd", value)


def _attrs(**values: Any) -> str:
    return "".join(
        f" {name}={quoteattr(_xml_safe(str(value)))}"
        for name, value in values.items()
        if value is not None and value != ""
    )


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _entity_xml(tag: str, attrs: dict[str, Any], entity: dict[str, Any], known: set[str]) -> str:
    inner = ""
    if entity.get("data") is not None:
        inner += f"<data>{escape(_text(entity['data']))}</data>"
    extra = _extra(entity, known)
    if extra:
        inner += f"<extra>{escape(extra)}</extra>"
    return f"<{tag}{_attrs(**attrs)}>{inner}</{tag}>"


def flow_xml(flow: dict[str, Any]) -> str:
    nodes = "".join(
        _entity_xml(
            "node",
            {
                "id": n.get("id"),
                "type": n.get("type"),
                "x": _number((n.get("position") or {}).get("x")),
                "y": _number((n.get("position") or {}).get("y")),
            },
            n,
            NODE_KEYS,
        )
        for n in flow["nodes"]
    )
    edges = "".join(
        _entity_xml(
            "edge",
            {
                "id": e.get("id"),
                "source": e.get("source"),
                "target": e.get("target"),
                "sourceHandle": e.get("sourceHandle"),
                "targetHandle": e.get("targetHandle"),
                "type": e.get("type"),
            },
            e,
            EDGE_KEYS,
        )
        for e in flow["edges"]
    )
    attrs = _attrs(
        id=flow["id"],
        name=flow["name"],
        version=flow["version"],
        createdBy=flow["createdBy"],
        createdAt=flow["createdAt"],
        lastModified=flow["lastModified"],
    )
    return f"<flow{attrs}><nodes>{nodes}</nodes><edges>{edges}</edges></flow>"


def output_xml(output: dict[str, Any]) -> str:
    attrs = _attrs(
        id=output["id"],
        flowId=output["flowId"],
        nodeId=output["nodeId"],
        timestamp=output["timestamp"],
        computeTime=repr(float(output["computeTime"])),
        runId=output["runId"],
        cached="true" if output["cached"] else "false",
    )
    return f"<output{attrs}>{escape(_text(output['output']))}</output>"


async def _xml(uow: TenantUnitOfWork, scope: Scope) -> AsyncIterator[bytes]:
    head = _attrs(formatVersion=FORMAT_VERSION, exportedAt=now_ms(), organizationId=scope.org_id)
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<flows-export xmlns="{XML_NAMESPACE}"{head}><flows>'
    ).encode()
    async for flow in _flows(uow, scope):
        yield flow_xml(flow).encode("utf-8")
    yield b"</flows><outputs>"
    async for output in _outputs(uow, scope):
        yield output_xml(output).encode("utf-8")
    yield b"</outputs></flows-export>\n"
