"""Cache keys of node work.

A key is the SHA-256 of the node type, its version, its validated config and the values
of its inputs (canonical JSON), plus the run's inputs and trigger payload for types that
read them. It never contains a node id, so two nodes doing the same work share a key,
and a change anywhere upstream changes the inputs, hence the key, of everything below.
When a key cannot be computed (a value that is not JSON) there is no key: the node runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from minibase.engine.plan import PlanNode

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def cache_key(
    node: PlanNode, inputs: Mapping[str, Any], *, run_inputs: Any = None, payload: Any = None
) -> str | None:
    """The node's key for these inputs, or ``None`` (no cache) when it cannot be made."""
    digest = hashlib.sha256()
    digest.update(node.node_type.type.encode())
    digest.update(b"\0%d\0" % node.node_type.version)
    digest.update(node.config_json)
    try:
        digest.update(b"\0" + orjson.dumps(dict(inputs), option=_OPTIONS))
        if node.node_type.uses_trigger:
            digest.update(b"\0" + orjson.dumps([run_inputs, payload], option=_OPTIONS))
    except TypeError:
        return None
    return digest.hexdigest()


def cacheable(node: PlanNode) -> bool:
    """Whether a node may be served from the cache at all."""
    return node.node_type.idempotent or node.processing.cacheNonIdempotent
