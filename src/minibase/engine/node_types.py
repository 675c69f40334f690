"""What a node type is: a name, a version, typed ports, a config model and a process function.

A process function receives the node's validated config, its inputs (port name to value)
and a :class:`NodeContext`, and returns its outputs as a dict (port name to value); a port
left out of the dict is *inactive*: nodes fed only by it are skipped (how ``condition``
branches). It may be a plain function or a coroutine function. Third-party packages add
types through the ``minibase.nodes`` entry-point group (see ``engine/registry.py``).
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict


class NodeFailure(Exception):
    """A node could not produce its outputs; ``code`` and the message reach the run."""

    def __init__(self, message: str, code: str = "node_failed") -> None:
        super().__init__(message)
        self.code = code


class EmptyConfig(BaseModel):
    """The config of a type that takes none (unknown ``data`` fields are ignored)."""

    model_config = ConfigDict(extra="ignore")


@dataclass(frozen=True, slots=True)
class Port:
    """One input or output of a node type. ``schema`` is a JSON Schema (``{}``: anything).

    ``multiple``: an input that takes every edge into it, as a list in edge order.
    """

    name: str
    schema: Mapping[str, Any] = field(default_factory=dict)
    required: bool = True
    multiple: bool = False

    def to_json(self, *, output: bool = False) -> dict[str, Any]:
        if output:
            return {"name": self.name, "schema": dict(self.schema)}
        return {"name": self.name, "schema": dict(self.schema), "required": self.required}


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What a running node may know besides its config and inputs."""

    run_id: str
    node_id: str
    flow_id: str
    organization_id: str
    run_inputs: Mapping[str, Any]
    """The run's ``inputs`` (manual runs and schedules)."""
    payload: Any
    """The trigger payload (a webhook's JSON body), ``None`` otherwise."""
    allow_private_addresses: bool = False
    """Whether outbound HTTP may reach loopback, private and link-local addresses."""


ProcessResult = Mapping[str, Any] | Awaitable[Mapping[str, Any]]
Process = Callable[[Any, Mapping[str, Any], NodeContext], ProcessResult]


@dataclass(frozen=True, slots=True)
class NodeType:
    """A node type. ``idempotent=False`` types (HTTP, time, random) are never served from
    the cache unless a node asks for it (``processing.cacheNonIdempotent``)."""

    type: str
    version: int
    category: str
    title: str
    description: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    config: builtins.type[BaseModel]
    process: Process
    idempotent: bool = True
    timeout_seconds: float | None = None
    """The default per-node timeout of this type (the run's setting when ``None``)."""
    uses_trigger: bool = False
    """The output depends on the run's inputs or payload (part of the cache key)."""

    def input(self, name: str | None) -> Port | None:
        if name is None:
            return self.inputs[0] if self.inputs else None
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str | None) -> Port | None:
        if name is None:
            return self.outputs[0] if self.outputs else None
        return next((p for p in self.outputs if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "version": self.version,
            "category": self.category,
            "title": self.title,
            "description": self.description,
            "inputs": [p.to_json() for p in self.inputs],
            "outputs": [p.to_json(output=True) for p in self.outputs],
            "configSchema": self.config.model_json_schema(),
            "idempotent": self.idempotent,
        }
