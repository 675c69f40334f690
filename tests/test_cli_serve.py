"""``minibase serve`` as a real process: starts, answers, stops cleanly, fails in one line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.process import ServerProcess, free_port

pytestmark = pytest.mark.slow


def test_serve_answers_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    try:
        server.wait_ready()
        assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{server.base_url}/readyz").status_code == 200
        assert (tmp_path / "data" / "minibase.db").exists()
    finally:
        code = server.stop()
    assert code == 0
    log = server.log_path.read_text()
    assert "Traceback" not in log
    assert '"path":"/healthz"' in log


def _run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minibase", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_port_taken_is_one_line_error(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = _run_serve("--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert lines == [f"minibase: error: port {port} on 127.0.0.1 is already in use"]


def test_unwritable_data_dir_is_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _run_serve("--port", str(free_port()), "--data-dir", str(blocker / "data"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "is not writable" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
