"""``minibase worker`` child processes for durability tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from minibase.config import Settings


class WorkerProcess:
    def __init__(self, settings: Settings, log_dir: Path, name: str, **env: str) -> None:
        self.log_path = log_dir / f"worker-{name}.log"
        self._log = self.log_path.open("wb")
        full_env = {
            **os.environ,
            "MINIBASE_DATABASE_URL": settings.database_url,
            "MINIBASE_DATA_DIR": str(settings.data_dir),
            "MINIBASE_RUN_POLL_SECONDS": "0.05",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "minibase", "worker"],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_running(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()}")
            if b"is running" in self.log_path.read_bytes():
                return
            time.sleep(0.05)
        raise TimeoutError(f"worker did not start: {self.log_path.read_text()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode
