"""A run plan: a flow's nodes checked against their types, wired, in topological order.

Every problem is found before anything runs and reported as one list of fields, each
naming its node (``nodes.<id>.data.<field>``): unknown types, invalid configs, edges to
missing nodes or ports, two edges into a single input, wrong types across an edge, cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from minibase.engine.node_types import NodeType
from minibase.engine.registry import NodeRegistry

CachingStrategy = Literal["immediate", "lazy", "scheduled"]


class Processing(BaseModel):
    """The seed's processing options of a node (``node.processing``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    persistOutput: bool = True
    shareAcrossOrganization: bool = False
    enableVersioning: bool = True
    cachingStrategy: CachingStrategy = "lazy"
    cacheNonIdempotent: bool = False
    timeoutSeconds: float | None = Field(None, gt=0, le=86_400)


@dataclass(frozen=True, slots=True)
class Wire:
    """An edge as the executor sees it."""

    source: str
    source_port: str
    target: str
    target_port: str


@dataclass(slots=True)
class PlanNode:
    id: str
    node_type: NodeType
    config: BaseModel
    config_json: bytes
    """The validated config, canonical JSON (part of the cache key)."""
    processing: Processing
    inbound: list[Wire] = field(default_factory=list)
    outbound: list[Wire] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    nodes: dict[str, PlanNode]
    """In a topological order."""

    def ids(self) -> list[str]:
        return list(self.nodes)


class PlanError(ValueError):
    """The flow cannot run; ``fields`` in the contract's ``validation_error`` shape."""

    def __init__(self, fields: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{f['field']}: {f['message']}" for f in fields))
        self.fields = fields


def _compatible(source: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    a, b = source.get("type"), target.get("type")
    if a is None or b is None or a == b:
        return True
    return bool(a == "integer" and b == "number")


def _field(node_id: str, path: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": f"nodes.{node_id}{path}", "message": message, "type": kind, "nodeId": node_id}


def needed_nodes(
    nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], wanted: Iterable[str]
) -> set[str]:
    """``wanted`` and every node upstream of them."""
    parents: dict[str, list[str]] = {}
    for edge in edges:
        parents.setdefault(str(edge.get("target")), []).append(str(edge.get("source")))
    seen: set[str] = set()
    stack = list(wanted)
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(parents.get(node_id, ()))
    return seen


def build_plan(
    nodes: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    registry: NodeRegistry,
) -> Plan:
    """The plan of a whole document (subset it first with :func:`needed_nodes`)."""
    errors: list[dict[str, Any]] = []
    planned: dict[str, PlanNode] = {}
    for node in nodes:
        node_id = str(node.get("id"))
        node_type = registry.get(str(node.get("type")))
        if node_type is None:
            errors.append(
                _field(node_id, ".type", f"Unknown node type {node.get('type')!r}.", "unknown_type")
            )
            continue
        data = node.get("data") or {}
        try:
            config = node_type.config.model_validate(data if isinstance(data, dict) else {})
            processing = Processing.model_validate(node.get("processing") or {})
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                errors.append(_field(node_id, f".data.{where}", err["msg"], err["type"]))
            continue
        config_json = orjson.dumps(config.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        planned[node_id] = PlanNode(node_id, node_type, config, config_json, processing)
    for edge in edges:
        source, target = str(edge.get("source")), str(edge.get("target"))
        if source not in planned or target not in planned:
            if source in planned or target in planned:
                missing = target if source in planned else source
                if not any(str(n.get("id")) == missing for n in nodes):
                    errors.append(
                        {
                            "field": f"edges.{edge.get('id')}",
                            "message": f"The edge joins a missing node {missing!r}.",
                            "type": "missing_node",
                        }
                    )
            continue
        src, dst = planned[source], planned[target]
        out_port = src.node_type.output(edge.get("sourceHandle"))
        in_port = dst.node_type.input(edge.get("targetHandle"))
        if out_port is None:
            errors.append(
                _field(source, ".outputs", f"No output {edge.get('sourceHandle')!r}.", "port")
            )
            continue
        if in_port is None:
            errors.append(
                _field(target, ".inputs", f"No input {edge.get('targetHandle')!r}.", "port")
            )
            continue
        if not _compatible(out_port.schema, in_port.schema):
            errors.append(
                _field(
                    target,
                    f".inputs.{in_port.name}",
                    f"Expects {in_port.schema.get('type')}, but {source}.{out_port.name} gives "
                    f"{out_port.schema.get('type')}.",
                    "type_mismatch",
                )
            )
            continue
        if not in_port.multiple and any(w.target_port == in_port.name for w in dst.inbound):
            errors.append(
                _field(
                    target,
                    f".inputs.{in_port.name}",
                    "Only one edge may feed this input.",
                    "too_many_edges",
                )
            )
            continue
        wire = Wire(source, out_port.name, target, in_port.name)
        dst.inbound.append(wire)
        src.outbound.append(wire)
    if errors:
        raise PlanError(errors)
    order = _topological(planned)
    if order is None:
        return _cycle_error(planned)
    return Plan({node_id: planned[node_id] for node_id in order})


def _topological(planned: dict[str, PlanNode]) -> list[str] | None:
    indegree = {node_id: len({w.source for w in n.inbound}) for node_id, n in planned.items()}
    ready = [node_id for node_id, d in indegree.items() if d == 0]
    order: list[str] = []
    while ready:
        node_id = ready.pop()
        order.append(node_id)
        for child in {w.target for w in planned[node_id].outbound}:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order if len(order) == len(planned) else None


def _cycle_error(planned: dict[str, PlanNode]) -> Plan:
    remaining = {k for k, n in planned.items() if n.inbound}
    changed = True
    while changed:  # peel off nodes that only feed the cycle or hang below it
        changed = False
        for node_id in list(remaining):
            if not any(w.target in remaining for w in planned[node_id].outbound) or not any(
                w.source in remaining for w in planned[node_id].inbound
            ):
                remaining.discard(node_id)
                changed = True
    ids = sorted(remaining)
    raise PlanError(
        [
            {
                "field": "edges",
                "message": f"The flow has a cycle through {', '.join(ids)}.",
                "type": "cycle",
                "nodeIds": ids,
            }
        ]
    )
