"""docs/guide.md runs: its Python blocks, in order, in one namespace, against a real
server; every ``minibase`` command in its shell blocks parses with the real CLI parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from minibase.cli import build_parser
from tests.process import ServerProcess
from tests.sdk.conftest import start_server

GUIDE = Path(__file__).parents[2] / "docs" / "guide.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)


def test_the_guide_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = blocks("python")
    assert len(code) >= 8
    server: ServerProcess = start_server(tmp_path / "data", {})
    try:
        monkeypatch.setenv("MINIBASE_URL", server.base_url)
        namespace: dict[str, object] = {"__name__": "guide"}
        for block in code:
            exec(compile(block, str(GUIDE), "exec"), namespace)
    finally:
        server.stop()
    printed = capsys.readouterr().out
    # What the comments in the guide say the examples print.
    for comment in re.findall(r"print\(.*\)  # (.+)", "\n".join(code)):
        expected = re.sub(r"\s+\(.*\)$", "", comment.strip())  # without a remark
        assert expected in printed, comment


def test_every_shell_command_parses() -> None:
    commands = [
        line.strip()
        for block in blocks("sh")
        for line in block.splitlines()
        if line.strip().startswith("minibase ")
    ]
    assert len(commands) >= 15
    for command in commands:
        words = shlex.split(command.split("  #")[0])[1:]
        try:
            args = build_parser().parse_args(words)
        except SystemExit as exited:  # argparse refused it
            raise AssertionError(f"docs/guide.md: `{command}` does not parse") from exited
        assert args.command is not None, command
