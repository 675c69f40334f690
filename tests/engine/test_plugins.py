"""Third-party node types through the ``minibase.nodes`` entry-point group."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap
from pathlib import Path

import pytest

from minibase.engine.executor import RunSpec, execute
from minibase.engine.plan import build_plan
from minibase.engine.registry import ENTRY_POINT_GROUP, NodeRegistry
from tests.engine.helpers import MemoryRecorder, e, n

PLUGIN = """
from pydantic import BaseModel

from minibase.engine.node_types import NodeType, Port


class Config(BaseModel):
    suffix: str = "!"


async def shout(config, inputs, ctx):
    return {"text": str(inputs["text"]).upper() + config.suffix}


NODE_TYPES = [
    NodeType(
        type="demo_shout",
        version=2,
        category="text",
        title="Shout",
        description="Upper-cases its input.",
        inputs=(Port("text", {"type": "string"}),),
        outputs=(Port("text", {"type": "string"}),),
        config=Config,
        process=shout,
    )
]
"""


def install(site: Path, name: str, module_source: str, entry: str) -> None:
    """A minimal installed distribution: its module and a dist-info with entry points."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {entry}\n")


async def test_a_plugin_type_is_registered_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    install(tmp_path, "mb_demo_nodes", PLUGIN, "mb_demo_nodes:NODE_TYPES")
    install(
        tmp_path,
        "mb_broken_nodes",
        "raise ImportError('missing dependency')\n",
        "mb_broken_nodes:NODE_TYPES",
    )
    install(tmp_path, "mb_wrong_nodes", "NODE_TYPES = [42]\n", "mb_wrong_nodes:NODE_TYPES")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        with caplog.at_level(logging.WARNING, logger="minibase.engine"):
            registry = NodeRegistry.default()
        shout = registry.get("demo_shout")
        assert shout is not None and shout.version == 2
        assert "constant" in registry
        failed = " ".join(r.getMessage() for r in caplog.records)
        assert "mb_broken_nodes" in failed and "mb_wrong_nodes" in failed
        plan = build_plan(
            [n("t", "template", template="hello"), n("s", "demo_shout", suffix="?")],
            [e("t", "s")],
            registry,
        )
        spec = RunSpec(run_id="r", flow_id="f", organization_id="o", inputs={})
        results = await execute(plan, spec, MemoryRecorder())
        assert results["s"].outputs == {"text": "HELLO?"}
    finally:
        for name in ("mb_demo_nodes", "mb_broken_nodes", "mb_wrong_nodes"):
            sys.modules.pop(name, None)
