"""Flow documents and an in-memory recorder for executor tests."""

from __future__ import annotations

import asyncio
from typing import Any

from minibase.engine.executor import CachedResult, NodeResult
from minibase.engine.plan import PlanNode


def n(
    node_id: str, type_: str, processing: dict[str, Any] | None = None, **data: Any
) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "type": type_,
        "position": {"x": 0, "y": 0},
        "data": data,
    }
    if processing is not None:
        node["processing"] = processing
    return node


def e(
    source: str, target: str, source_handle: str | None = None, target_handle: str | None = None
) -> dict[str, Any]:
    edge: dict[str, Any] = {
        "id": f"{source}-{target}-{source_handle}-{target_handle}",
        "source": source,
        "target": target,
    }
    if source_handle:
        edge["sourceHandle"] = source_handle
    if target_handle:
        edge["targetHandle"] = target_handle
    return edge


class MemoryRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.cache: dict[str, CachedResult] = {}
        self.results: dict[str, NodeResult] = {}
        self.any_started = asyncio.Event()

    async def lookup(self, node: PlanNode, key: str) -> CachedResult | None:
        return self.cache.get(key)

    def started(self, node_id: str, at: int) -> None:
        self.events.append(("start", node_id))
        self.any_started.set()

    def finished(self, result: NodeResult) -> None:
        self.events.append((result.status, result.node_id))
        self.results[result.node_id] = result
        if result.status == "succeeded" and result.cache_key and result.output_bytes:
            self.cache[result.cache_key] = CachedResult(
                result.outputs or {}, result.output_bytes, result.compute_time
            )
