"""Settings: read once, typed, from ``MINIBASE_*`` environment variables and CLI flags.

Every setting carries a description; ``minibase settings`` prints them and a test fails
when one is missing from ``docs/settings.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error"]

MIB = 1024 * 1024


class Settings(BaseSettings):
    """The whole configuration of one Minibase instance."""

    model_config = SettingsConfigDict(
        env_prefix="MINIBASE_", extra="forbid", frozen=True, validate_default=True
    )

    host: str = Field("127.0.0.1", description="Address `minibase serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port `minibase serve` listens on.")
    data_dir: Path = Field(
        Path("./minibase-data"),
        description="Directory for the embedded SQLite database and local state.",
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL of the database, e.g. `postgresql+asyncpg://user@host/db`. "
            "Empty: a SQLite file `minibase.db` (WAL mode) in the data directory. "
            "On PostgreSQL this user runs the migrations and owns the tables."
        ),
    )
    app_database_url: str = Field(
        "",
        description=(
            "PostgreSQL only: URL the server connects with to serve requests, as a role that "
            "owns nothing and cannot bypass row-level security. Empty: connect with "
            "`database_url` and `SET ROLE` to `app_role` on every pooled connection."
        ),
    )
    app_role: str = Field(
        "minibase_app",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL role the server acts as; created by the migrations.",
    )
    database_pool_size: int = Field(
        10, ge=1, le=200, description="Connections kept in the database pool (PostgreSQL)."
    )
    redis_url: str = Field(
        "",
        description=(
            "Redis URL (`redis://host:6379/0`) for the event bus shared by several "
            "instances. Empty: events are fanned out in process."
        ),
    )
    redis_prefix: str = Field(
        "minibase:",
        description="Prefix of every Redis key and channel, so deployments can share one Redis.",
    )
    master_key: SecretStr = Field(
        SecretStr(""),
        description=(
            "Master key (base64, 32 bytes) for envelope encryption at rest. Reserved: this "
            "release stores data unencrypted and does not read it yet."
        ),
    )
    log_level: LogLevel = Field("info", description="Minimum level of the JSON log lines.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed by CORS, as a JSON list (`["https://app.example"]`).',
    )
    max_body_bytes: int = Field(
        5 * MIB, ge=1024, description="Largest accepted request body, in bytes (413 above)."
    )
    max_flow_nodes: int = Field(5000, ge=1, description="Most nodes one flow may hold.")
    max_flow_edges: int = Field(20000, ge=1, description="Most edges one flow may hold.")
    max_flow_bytes: int = Field(
        4 * MIB, ge=1024, description="Largest serialized flow document, in bytes (413 above)."
    )
    session_idle_days: float = Field(
        30, gt=0, description="A session token expires after this many days without use."
    )
    invitation_ttl_days: float = Field(
        7, gt=0, description="An invitation expires this many days after it was sent."
    )
    login_max_attempts: int = Field(
        10,
        ge=1,
        description=(
            "Failed logins (and failed signups) allowed per account in one window; the "
            "next attempt gets 429 until the window has passed."
        ),
    )
    login_max_attempts_per_address: int = Field(
        100,
        ge=1,
        description=(
            "Failed logins and signups allowed per client address in one window (looser "
            "than per account: many users may share one address)."
        ),
    )
    login_window_seconds: int = Field(
        300, ge=1, description="Length of the failed-login window, in seconds."
    )
    rate_limit_per_second: int = Field(
        100, ge=1, description="Requests per second allowed per token (429 above)."
    )
    idempotency_ttl_hours: int = Field(
        24, ge=1, description="How long an `Idempotency-Key` response is remembered."
    )
    sync_max_subscriptions: int = Field(
        100, ge=1, description="Most live-query subscriptions on one `/v1/sync` socket."
    )
    sync_max_sockets_per_user: int = Field(
        20, ge=1, description="Most `/v1/sync` sockets one user or API key holds per instance."
    )
    sync_queue_limit: int = Field(
        256,
        ge=1,
        description=(
            "Frames queued for one `/v1/sync` socket; a client further behind is "
            "disconnected with close code 4008."
        ),
    )
    sync_revalidate_seconds: float = Field(
        30, gt=0, description="How often every live socket's token is re-validated."
    )
    collab_version_seconds: float = Field(
        2.0,
        gt=0,
        description=(
            "Collaborative edits of one author within this many seconds become one flow "
            "version (materialization debounce)."
        ),
    )
    collab_unload_seconds: float = Field(
        5.0, ge=0, description="A collab room stays loaded this long after its last client left."
    )
    smtp_url: str = Field(
        "",
        description=(
            "SMTP server for invitation mail (`smtp://user:pass@host:587`). Empty: invitation "
            "links are written to the server log (development)."
        ),
    )
    smtp_from: str = Field("minibase@localhost", description="Sender address of invitation mail.")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL users reach this deployment at (used in invitation links).",
    )

    @model_validator(mode="after")
    def _fill_database_url(self) -> Settings:
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite+aiosqlite:///{self.data_dir / 'minibase.db'}"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def describe_settings() -> list[tuple[str, str, str]]:
    """Return ``(ENV_VAR, default, help)`` for every setting, in declaration order."""
    rows: list[tuple[str, str, str]] = []
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = repr(field.default_factory())  # type: ignore[call-arg]
        elif isinstance(field.default, SecretStr):
            default = "''"
        else:
            default = repr(str(field.default) if isinstance(field.default, Path) else field.default)
        rows.append((f"MINIBASE_{name.upper()}", default, field.description or ""))
    return rows
