"""The ``minibase`` command: ``serve`` (the default), ``migrate``, ``settings``."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from minibase.config import Settings, describe_settings


def _settings(overrides: dict[str, Any]) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SystemExit(
                    f"minibase: error: port {port} on {host} is already in use"
                ) from None
            raise SystemExit(
                f"minibase: error: cannot listen on {host}:{port}: {exc.strerror}"
            ) from None


def _check_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        message = f"minibase: error: data directory {path} is not writable ({exc.strerror})"
        raise SystemExit(message) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from minibase.app import create_app
    from minibase.logs import configure_logging

    settings = _settings({"host": args.host, "port": args.port, "data_dir": args.data_dir})
    configure_logging(settings.log_level)
    if settings.is_sqlite:
        _check_data_dir(settings.data_dir)
    _check_port(settings.host, settings.port)
    try:
        asyncio.run(_migrate(settings))
    except OSError as exc:
        raise SystemExit(f"minibase: error: cannot reach the database: {exc}") from None
    app = create_app(settings, run_migrations=False)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws_per_message_deflate=False,  # compressing small frames costs more than it saves
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    server = _server_class()(config)
    server.run()
    return 0


def _server_class() -> type[Any]:
    import signal
    from collections.abc import Iterator
    from contextlib import contextmanager

    import uvicorn

    class Server(uvicorn.Server):
        """Uvicorn's server, ending with exit status 0 after SIGINT or SIGTERM.

        Uvicorn re-raises the signal once it has shut down; a CLI that stopped cleanly
        on request should exit 0 instead.
        """

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            def handle(sig: int, frame: object) -> None:
                if self.should_exit and sig == signal.SIGINT:
                    self.force_exit = True
                self.should_exit = True

            previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


async def _migrate(settings: Settings) -> None:
    from minibase.store.migrate import migrate

    await migrate(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings({"data_dir": args.data_dir})
    asyncio.run(_migrate(settings))
    print("minibase: database is up to date")
    return 0


async def _verify_audit(settings: Settings, org_id: str) -> dict[str, Any]:
    from minibase.domain.principal import SYSTEM
    from minibase.services.audit import verify_chain
    from minibase.store.database import Database
    from minibase.store.unit_of_work import Store

    database = Database(settings)
    try:
        async with Store(database).tenant(org_id, SYSTEM) as uow:
            return await verify_chain(uow)
    finally:
        await database.close()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Verify one org's audit chain offline; exit 1 when a link is broken."""
    settings = _settings({"data_dir": args.data_dir})
    result = asyncio.run(_verify_audit(settings, args.org))
    if result["ok"]:
        print(f"minibase: audit log of {args.org} is intact ({result['checked']} events)")
        return 0
    print(
        f"minibase: audit log of {args.org} is BROKEN at seq {result['firstBadSeq']} "
        f"({result['checked']} events verified before it)"
    )
    return 1


def cmd_settings(args: argparse.Namespace) -> int:
    for env, default, help_text in describe_settings():
        print(f"{env}  (default: {default})\n    {help_text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minibase",
        description="Minibase: a multi-tenant, real-time backend for workflow editors.",
        epilog="Settings come from MINIBASE_* environment variables; see `minibase settings`.",
    )
    parser.add_argument("--help-settings", action="store_true", help="list every setting and exit")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the server (the default command)")
    _add_serve_args(serve)

    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument("--data-dir", type=Path, default=None, help="data directory")

    sub.add_parser("settings", help="list every setting with its default and help")

    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="verify an organization's hash chain")
    verify.add_argument("--org", required=True, help="organization id (org_...)")
    verify.add_argument("--data-dir", type=Path, default=None, help="data directory")
    return parser


def _add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (8000)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data directory (./minibase-data)"
    )


COMMANDS = {
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "settings": cmd_settings,
    "audit": cmd_audit_verify,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--help-settings")):
        argv = ["serve", *argv]
    args = parser.parse_args(argv)
    if args.help_settings:
        return cmd_settings(args)
    command = args.command or "serve"
    if command == "serve" and not hasattr(args, "host"):
        args = parser.parse_args(["serve"])
    try:
        return COMMANDS[command](args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        print(f"minibase: error: invalid setting {where}: {first['msg']}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    os._exit(main())
