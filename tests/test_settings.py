"""Settings are typed, documented, and read from MINIBASE_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from minibase.cli import main
from minibase.config import Settings, describe_settings

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_has_help() -> None:
    for env, _default, help_text in describe_settings():
        assert help_text.strip(), f"{env} has no description"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [env for env, _, _ in describe_settings() if f"`{env}`" not in text]
    assert not missing, f"undocumented in docs/settings.md: {missing}"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MINIBASE_PORT", "9123")
    monkeypatch.setenv("MINIBASE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MINIBASE_CORS_ORIGINS", '["https://app.example"]')
    settings = Settings()
    assert settings.port == 9123
    assert settings.cors_origins == ["https://app.example"]
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'minibase.db'}"
    assert settings.is_sqlite


def test_invalid_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIBASE_PORT", "not-a-port")
    with pytest.raises(ValidationError):
        Settings()


def test_settings_command_lists_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    for env, _, _ in describe_settings():
        assert env in out
    assert main(["--help-settings"]) == 0
