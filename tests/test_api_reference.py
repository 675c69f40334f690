"""docs/api.md is the reference of every endpoint, generated from the OpenAPI document."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "api-reference"


def load_script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("api_reference", str(SCRIPT))
    spec = importlib.util.spec_from_loader("api_reference", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_docs_api_md_is_up_to_date() -> None:
    script = load_script()
    expected = script.render(script.current_spec())
    assert script.TARGET.read_text(encoding="utf-8") == expected, (
        "docs/api.md is stale: run .venv/bin/python scripts/api-reference"
    )


def test_every_documented_operation_has_a_section() -> None:
    script = load_script()
    spec = script.current_spec()
    text = script.TARGET.read_text(encoding="utf-8")
    for path, operations in spec["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in text
    assert "### `WS /v1/sync`" in text and "### `WS /v1/collab/{orgId}/{flowId}`" in text
