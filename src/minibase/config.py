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
            "Master key (base64, 32 bytes) that wraps each organization's data key "
            "(encryption at rest, docs/security.md). Empty: the key file `master.key` in the "
            "data dir, created with mode 0600 at first start."
        ),
    )
    master_keys_previous: SecretStr = Field(
        SecretStr(""),
        description=(
            "Previous master keys (base64, comma-separated) still accepted to unwrap data "
            "keys while `minibase keys rotate-master` re-wraps them under MINIBASE_MASTER_KEY."
        ),
    )
    shred_list: str = Field(
        "",
        description=(
            "File listing organizations whose data key was destroyed (crypto-shredding), "
            "kept outside the database so a restored backup cannot bring a key back. "
            "Empty: `shredded-orgs` in the data dir. Keep it with the master key."
        ),
    )
    tls_cert: str = Field(
        "",
        description=(
            "PEM certificate (chain) file: `minibase serve` then speaks HTTPS and WSS and "
            "sends HSTS. Needs `MINIBASE_TLS_KEY`. Empty: plain HTTP (behind a proxy that "
            "terminates TLS)."
        ),
    )
    tls_key: str = Field("", description="PEM private key file of `MINIBASE_TLS_CERT`.")
    backup_dir: str = Field(
        "",
        description=(
            "Directory of `minibase backup` archives and of scheduled backups, each with a "
            "status file; empty: `backups` in the data directory."
        ),
    )
    backup_schedule: str = Field(
        "",
        description=(
            "Cron expression (UTC) of automatic backups, e.g. `0 3 * * *`; each is "
            "verified by a restore into a scratch target. Empty: no automatic backups."
        ),
    )
    backup_keep: int = Field(
        7, ge=1, description="Automatic backups kept in `MINIBASE_BACKUP_DIR`; older ones go."
    )
    instance_admins: str = Field(
        "",
        description=(
            "Comma-separated emails of instance admins, who reach `/v1/admin/...` "
            "(everyone else gets 404 there)."
        ),
    )
    retention_interval_seconds: float = Field(
        3600,
        ge=0,
        description=(
            "How often each instance applies the organizations' retention settings "
            "(`settings.retention`); 0: never."
        ),
    )
    max_import_bytes: int = Field(
        1024 * MIB,
        ge=1024,
        description=(
            "Largest organization archive `POST /v1/orgs/import` accepts, in bytes (413 "
            "above); it is spooled to a temporary file, never held in memory."
        ),
    )
    log_level: LogLevel = Field("info", description="Minimum level of the JSON log lines.")
    prices: str = Field(
        "",
        description=(
            "Prices of metered usage per plan, as JSON: plan -> item -> price per unit "
            '(items `computeMs`, `run`, `storageByteDay`, `seat`), e.g. `{"pro": {"seat": 12}}`. '
            "Plans and items left out keep the defaults (docs/insight.md)."
        ),
    )
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description=(
            "Bearer token `GET /metrics` requires. Empty: `/metrics` is open (keep it "
            "behind the network edge then)."
        ),
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed by CORS, as a JSON list (`["https://app.example"]`).',
    )
    max_body_bytes: int = Field(
        5 * MIB, ge=1024, description="Largest accepted request body, in bytes (413 above)."
    )
    header_timeout_seconds: float = Field(
        10,
        gt=0,
        description=(
            "Time a client has to send a request's headers (from the moment the connection "
            "opens, or the start of the next request on a kept-alive connection); 408 and "
            "close after."
        ),
    )
    body_timeout_seconds: float = Field(
        30,
        gt=0,
        description=(
            "Time a client has to send a request's whole body once its headers are in; "
            "408 and close after."
        ),
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description=(
            "Most open connections (HTTP and WebSocket) one instance serves; one more is "
            "answered 503 at once and closed."
        ),
    )
    keepalive_seconds: int = Field(
        5, ge=1, description="An idle kept-alive HTTP connection is closed after this many seconds."
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
    sync_queue_bytes: int = Field(
        16 * MIB,
        ge=64 * 1024,
        description=(
            "Bytes queued for one `/v1/sync` socket (only the latest value of each "
            "subscription is kept); a client further behind is disconnected with 4008."
        ),
    )
    sync_user_queue_bytes: int = Field(
        64 * MIB,
        ge=64 * 1024,
        description=(
            "Bytes queued for all the `/v1/sync` sockets of one user or API key together "
            "on one instance; past it the socket that would pass it is closed with 4008."
        ),
    )
    sync_revalidate_seconds: float = Field(
        30, gt=0, description="How often every live socket's token is re-validated."
    )
    collab_version_seconds: float = Field(
        2.0,
        gt=0,
        description=(
            "Collaborative edits within this many seconds become one flow version per "
            "author who made them (materialization debounce)."
        ),
    )
    collab_unload_seconds: float = Field(
        5.0, ge=0, description="A collab room stays loaded this long after its last client left."
    )
    collab_rebase_over_bytes: int = Field(
        64 * 1024,
        ge=0,
        description=(
            "A collab room that loads rebases its flow's stored Yjs state (the same "
            "content, no editing history) when the state is larger than this, unchanged "
            "for collab_rebase_idle_seconds, and at least halved by it; 0: never. Never "
            "with redis_url set (another instance may hold the room)."
        ),
    )
    collab_rebase_idle_seconds: float = Field(
        3600.0,
        ge=0,
        description=(
            "How long a flow's stored Yjs state must be unchanged before it is rebased "
            "(offline edits of older documents to entries that existed are dropped)."
        ),
    )
    collab_awareness_max_clients: int = Field(
        8, ge=1, description="Most Yjs client ids one collab socket may announce presence for."
    )
    collab_awareness_max_state_bytes: int = Field(
        8192, ge=256, description="Largest awareness (presence) state of one client, in bytes."
    )
    collab_awareness_per_second: float = Field(
        20.0,
        gt=0,
        description=(
            "Awareness frames relayed per collab socket and second (bursts of twice that); "
            "beyond it only the newest state is relayed, once the socket is within its rate."
        ),
    )
    require_email_verification: bool = Field(
        False,
        description=(
            "New accounts sign in only after following a link sent to their address "
            "(through the invitation sender: the server log without SMTP)."
        ),
    )
    email_verification_ttl_hours: float = Field(
        48, gt=0, description="An email verification link expires this many hours after sending."
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

    run_in_server: Literal["auto", "always", "never"] = Field(
        "auto",
        description=(
            "Whether `minibase serve` executes flow runs itself: `auto` on SQLite only "
            "(on PostgreSQL, `minibase worker` processes execute them), `always`, `never`."
        ),
    )
    worker_concurrency: int = Field(
        4, ge=1, le=256, description="Runs one worker (or server) executes at once."
    )
    run_lease_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "A worker's hold on a run; renewed every third of it. A run whose worker died "
            "is taken over by another this long after the last renewal."
        ),
    )
    run_poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle worker looks for queued runs."
    )
    run_node_timeout_seconds: float = Field(
        300.0, gt=0, description="Default time limit of one node (types and nodes may set theirs)."
    )
    run_time_limit_seconds: float = Field(
        3600.0, gt=0, description="Longest a run may take; then it ends as `timed_out`."
    )
    run_max_output_bytes: int = Field(
        1 * MIB, ge=1024, description="Largest output of one node, as JSON (the node fails above)."
    )
    run_schedules: bool = Field(
        True,
        description=(
            "Whether this process fires cron schedules (any number of instances may: each "
            "fire time starts one run)."
        ),
    )
    schedule_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="Longest a scheduler sleeps before looking for schedules set elsewhere.",
    )
    webhook_allow_private: bool = Field(
        False,
        description=(
            "Let outbound requests (the HTTP node, event webhooks) reach loopback, private "
            "and link-local addresses. Off: such targets are refused."
        ),
    )

    webhook_max_body_bytes: int = Field(
        1 * MIB,
        ge=1024,
        description="Largest body `POST /v1/hooks/{webhookId}` accepts, in bytes (413 above).",
    )
    webhook_retry_base_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "First wait before an event webhook delivery is tried again; each later wait "
            "doubles (with jitter, at most an hour)."
        ),
    )
    webhook_retry_hours: float = Field(
        24.0, gt=0, description="How long a failing event webhook delivery keeps being retried."
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Time limit of one event webhook delivery attempt."
    )
    webhook_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="Longest the delivery loop sleeps before looking for due event deliveries.",
    )

    @model_validator(mode="after")
    def _fill_database_url(self) -> Settings:
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite+aiosqlite:///{self.data_dir / 'minibase.db'}"
            )
        return self

    @model_validator(mode="after")
    def _fill_backup_dir(self) -> Settings:
        if not self.backup_dir:
            object.__setattr__(self, "backup_dir", str(self.data_dir / "backups"))
        if self.backup_schedule:
            from croniter import croniter

            if not croniter.is_valid(self.backup_schedule):
                raise ValueError("MINIBASE_BACKUP_SCHEDULE is not a cron expression")
        return self

    @model_validator(mode="after")
    def _check_prices(self) -> Settings:
        if self.prices.strip():
            import json

            try:
                data = json.loads(self.prices)
            except json.JSONDecodeError:
                raise ValueError("MINIBASE_PRICES is not JSON") from None
            if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                raise ValueError("MINIBASE_PRICES must be a JSON object: plan -> item -> price")
        return self

    @model_validator(mode="after")
    def _check_tls_pair(self) -> Settings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("MINIBASE_TLS_CERT and MINIBASE_TLS_KEY go together: set both")
        return self

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls_cert)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def runs_in_server(self) -> bool:
        """Whether ``minibase serve`` executes flow runs (see ``run_in_server``)."""
        if self.run_in_server == "auto":
            return self.is_sqlite
        return self.run_in_server == "always"


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
