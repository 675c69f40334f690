"""docs/sdk.md runs: its Python blocks, in order, in one namespace, against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.process import ServerProcess
from tests.sdk.conftest import start_server

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"


def test_the_guide_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    server: ServerProcess = start_server(tmp_path / "data", {})
    try:
        monkeypatch.setenv("MINIBASE_URL", server.base_url)
        namespace: dict[str, object] = {"__name__": "guide"}
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    finally:
        server.stop()
    printed = capsys.readouterr().out
    assert "Hello again 2" in printed and "404 not_found" in printed
    assert "2 False" in printed and "Drafted offline" in printed
    assert "xy-edge__a-b" in printed and "['a', 'b']" in printed
    assert "succeeded" in printed and "Live 3" in printed and "now at version 3" in printed
