"""The ``minibase`` command: ``serve`` (the default), ``worker``, ``migrate``, ``settings``."""

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
from typing import Any, NoReturn

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from minibase.config import Settings, describe_settings
from minibase.domain.plans import Plan
from minibase.errors import MinibaseError, NotFound


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
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        message = f"minibase: error: data directory {path} is not writable ({exc.strerror})"
        raise SystemExit(message) from None


def _check_tls(cert: str, key: str) -> None:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise SystemExit(f"minibase: error: TLS file {exc.filename} does not exist") from None
    except PermissionError as exc:
        raise SystemExit(f"minibase: error: TLS file {exc.filename} is not readable") from None
    except (ssl.SSLError, OSError) as exc:
        raise SystemExit(
            f"minibase: error: cannot use TLS certificate {cert} with key {key} "
            f"({exc.strerror or exc})"
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from minibase.app import create_app, http_protocol
    from minibase.logs import configure_logging

    settings = _settings(
        {
            "host": args.host,
            "port": args.port,
            "data_dir": args.data_dir,
            "tls_cert": args.tls_cert,
            "tls_key": args.tls_key,
        }
    )
    configure_logging(settings.log_level)
    if settings.is_sqlite:
        _check_data_dir(settings.data_dir)
    if settings.tls_enabled:
        _check_tls(settings.tls_cert, settings.tls_key)
    _check_port(settings.host, settings.port)
    try:
        asyncio.run(_migrate_and_check_keys(settings))
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
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
        timeout_keep_alive=settings.keepalive_seconds,
        http=http_protocol(settings),
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

    await migrate(settings, warn_of_settings=True)


async def _migrate_and_check_keys(settings: Settings) -> None:
    """Migrate, then refuse to go on (StartupError: one line, exit 1) when the master
    key does not unwrap the database's data keys: never a half-started server."""
    from minibase.services.keys import check_keys

    await _migrate(settings)
    await _with_store(settings, check_keys)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings({"data_dir": args.data_dir})
    if settings.is_sqlite:
        _check_data_dir(settings.data_dir)
    asyncio.run(_migrate(settings))
    print("minibase: database is up to date")
    return 0


async def _verify_audit(settings: Settings, org_id: str) -> dict[str, Any]:
    from minibase.domain.principal import SYSTEM
    from minibase.services.audit import verify_chain
    from minibase.services.orgs import load_org
    from minibase.store.database import Database
    from minibase.store.unit_of_work import Store

    _require_database(settings)
    database = Database(settings)
    try:
        async with Store(database).tenant(org_id, SYSTEM) as uow:
            await load_org(uow)  # an unknown org is an error, not an empty chain
            return await verify_chain(uow)
    finally:
        await database.close()


def _require_database(settings: Settings) -> None:
    """Commands that read a deployment need its database: one clear line when the SQLite
    file is not there (wrong directory, no --data-dir), never a driver's traceback."""
    from minibase.store.files import sqlite_path

    path = sqlite_path(settings)
    if path is not None and not path.exists():
        raise SystemExit(
            f"minibase: error: no database at {path} (run it in the right directory, or "
            "pass --data-dir or MINIBASE_DATA_DIR)"
        )


def cmd_admin(args: argparse.Namespace) -> int:
    """``minibase admin grant|revoke|list|set-plan``: instance admins and plans, on the
    database the settings name, while servers run (they see it at their next request)."""
    import getpass

    from minibase.domain.plans import Plan
    from minibase.domain.principal import SYSTEM
    from minibase.services import instance_admins
    from minibase.services.audit import RequestMeta
    from minibase.store.database import Database
    from minibase.store.unit_of_work import Store

    if args.admin_command in ("create-user", "create-org", "add-member"):
        return cmd_admin_people(args)
    settings = _settings({"data_dir": args.data_dir})
    _require_database(settings)

    async def run() -> int:
        database = Database(settings)
        store = Store(database)
        try:
            command = args.admin_command
            if command == "grant":
                new = await instance_admins.grant(store, args.email, f"cli:{getpass.getuser()}")
                state = "is now" if new else "already was"
                _report(
                    args,
                    {"email": args.email, "granted": new},
                    f"minibase: {args.email} {state} an instance admin",
                )
            elif command == "revoke":
                if not await instance_admins.revoke(store, args.email):
                    print(f"minibase: error: {args.email} has no grant to revoke", file=sys.stderr)
                    return 1
                _report(
                    args,
                    {"email": args.email, "revoked": True},
                    f"minibase: {args.email} is no longer an instance admin by grant",
                )
            elif command == "list":
                admins = await instance_admins.list_admins(store, settings)
                lines = "\n".join(f"{row['email']}\t{row['source']}" for row in admins)
                _report(args, {"items": admins}, lines)
            else:
                meta = RequestMeta(ip=None, user_agent="minibase admin set-plan")
                org = await instance_admins.set_plan(store, args.org, Plan(args.plan), SYSTEM, meta)
                plan = org["billing"]["plan"]
                _report(args, org, f"minibase: {org['id']} ({org['name']}) is on the {plan} plan")
            return 0
        finally:
            await database.close()

    return asyncio.run(run())


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


class _TerminalProgress:
    """A rich progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description:>9}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> _TerminalProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, description: str, total: int | None) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, done: int) -> None:
        self._bar.advance(self._task, done)


def _progress() -> Any:
    """A context manager yielding a :class:`minibase.store.backup.Progress`."""
    import contextlib

    from minibase.store.backup import Progress

    if sys.stderr.isatty():
        return _TerminalProgress()
    return contextlib.nullcontext(Progress())


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def cmd_backup(args: argparse.Namespace) -> int:
    if args.backup_command == "verify":
        return _cmd_backup_verify(args)
    from minibase.ids import now_ms
    from minibase.services import backups

    settings = _settings({"data_dir": args.data_dir})
    out = args.out or Path(settings.backup_dir) / backups.archive_name(now_ms())
    with _progress() as progress:
        manifest = asyncio.run(backups.take(settings, out, progress))
    written = {"out": str(out), "bytes": out.stat().st_size, "manifest": manifest.to_json()}
    line = (
        f"minibase: backup written to {out} ({_size(out.stat().st_size)}, "
        f"{manifest.row_count} rows in {len(manifest.tables)} tables)"
    )
    if args.verify:
        # With --json, one object for both steps (the verification goes in it).
        if not args.json:
            print(line)
        return _report_verify(args, settings, out, written)
    _report(args, written, line)
    return 0


def _report_verify(
    args: argparse.Namespace,
    settings: Settings,
    archive: Path,
    written: dict[str, Any] | None = None,
) -> int:
    """Verify ``archive``; with ``--json`` one object (the backup just ``written`` too)."""
    from minibase.services import backups

    with _progress() as progress:
        report = asyncio.run(backups.verify(settings, archive, progress))
    if getattr(args, "json", False):
        _print_json({**(written or {"out": str(archive)}), "verify": report.to_json()})
        return 0 if report.ok else 1
    if report.ok:
        print(
            f"minibase: backup {archive} verified: restored {report.rows} rows in "
            f"{report.tables} tables, {report.audit_chains} audit chains intact "
            f"({report.audit_events} events)"
        )
        return 0
    for problem in report.problems:
        print(f"minibase: backup {archive} FAILED verification: {problem}")
    return 1


def _cmd_backup_verify(args: argparse.Namespace) -> int:
    settings = _settings({"data_dir": args.data_dir})
    return _report_verify(args, settings, args.file)


def cmd_restore(args: argparse.Namespace) -> int:
    from minibase.services import backups

    settings = _settings({"data_dir": args.data_dir})
    with _progress() as progress:
        manifest = asyncio.run(backups.restore(settings, args.file, progress))
    _report(
        args,
        {"restored": str(args.file), "manifest": manifest.to_json()},
        f"minibase: restored {args.file} ({manifest.row_count} rows, taken "
        f"{manifest.created_at} by Minibase {manifest.minibase_version})",
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from minibase.services import keys

    settings = _settings({"data_dir": args.data_dir})
    _require_database(settings)

    async def status(store: Any) -> Any:
        return await keys.key_status(store)

    if args.keys_command == "status":
        info = asyncio.run(_with_store(settings, status))
        if args.json:
            _print_json(info)
        else:
            print(f"minibase: current master key {info['currentKeyId']} ({info['source']})")
            for kid, count in sorted(info["dataKeysByMasterKey"].items()):
                print(f"  {count} organization data key(s) wrapped under {kid}")
        return 0

    async def rotate(store: Any) -> Any:
        await keys.check_keys(store)
        made = None if args.resume else keys.new_master_key(store)
        return made, await keys.rewrap(store, limit=args.limit)

    made, report = asyncio.run(_with_store(settings, rotate))
    if args.json:
        _print_json(
            {
                "newKeyId": made,
                "currentKeyId": report.current_key_id,
                "rewrapped": report.rewrapped,
                "remaining": report.remaining,
            }
        )
    else:
        if made:
            print(f"minibase: new master key {made} (the previous keys stay in the key file)")
        print(
            f"minibase: re-wrapped {report.rewrapped} data key(s) under {report.current_key_id}"
            + (
                f"; {report.remaining} left: run `minibase keys rotate-master --resume`"
                if report.remaining
                else "; none left under an older key"
            )
        )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from minibase.logs import configure_logging

    settings = _settings({"data_dir": args.data_dir})
    configure_logging(settings.log_level)
    try:
        asyncio.run(_migrate_and_check_keys(settings))
    except OSError as exc:
        raise SystemExit(f"minibase: error: cannot reach the database: {exc}") from None
    from minibase.app import run_worker

    asyncio.run(run_worker(settings))
    return 0


async def _export_org(settings: Settings, org_id: str, out: Path, passphrase: str | None) -> int:
    from minibase.domain.principal import SYSTEM
    from minibase.services.org_export import export_stream
    from minibase.store.database import Database
    from minibase.store.files import private_file
    from minibase.store.unit_of_work import Store

    database = Database(settings)
    partial = out.with_name(out.name + ".partial")
    written = 0
    try:
        with private_file(partial).open("wb") as target:
            async for chunk in export_stream(Store(database), SYSTEM, org_id, passphrase):
                target.write(chunk)
                written += len(chunk)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
        await database.close()
    return written


def cmd_export(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import NoResultFound

    settings = _settings({"data_dir": args.data_dir})
    passphrase = os.environ.get(args.passphrase_env) if args.passphrase_env else None
    if args.passphrase_env and not passphrase:
        raise SystemExit(f"minibase: error: ${args.passphrase_env} is empty")
    _require_database(settings)
    try:
        written = asyncio.run(_export_org(settings, args.org, args.out, passphrase))
    except NoResultFound:
        # What was named does not exist: exit status 2, as for `audit verify`.
        raise NotFound(f"no such organization: {args.org}") from None
    _report(
        args,
        {"organizationId": args.org, "out": str(args.out), "bytes": written},
        f"minibase: exported {args.org} to {args.out} ({_size(written)})",
    )
    return 0


async def _import_org(
    settings: Settings, archive: Path, admin: str, ids: str, passphrase: str | None
) -> dict[str, Any]:
    import shutil

    from minibase.domain.principal import Principal
    from minibase.services import org_import
    from minibase.services.audit import RequestMeta
    from minibase.store.database import Database
    from minibase.store.unit_of_work import Store

    database = Database(settings)
    workdir = Path(tempfile.mkdtemp(prefix="minibase-import-"))
    try:
        store = Store(database)
        user_id = await org_import.user_id_by_email(store, admin)
        if user_id is None:
            raise SystemExit(f"minibase: error: no user {admin}: sign up first")
        checked = org_import.check(org_import.unseal(archive, passphrase, workdir))
        try:
            principal = Principal(kind="user", id=user_id, credential_id="cli", user_id=user_id)
            return await org_import.import_org(
                store,
                principal,
                checked,
                ids="new" if ids == "new" else "keep",
                keep_plan=True,
                meta=RequestMeta(ip=None, user_agent="minibase import"),
            )
        finally:
            checked.zf.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        await database.close()


def cmd_import(args: argparse.Namespace) -> int:
    settings = _settings({"data_dir": args.data_dir})
    _require_database(settings)
    if not args.file.is_file():
        raise NotFound(f"no such archive: {args.file}")
    passphrase = os.environ.get(args.passphrase_env) if args.passphrase_env else None
    result = asyncio.run(_import_org(settings, args.file, args.admin, args.ids, passphrase))
    report = result["report"]
    _report(
        args,
        result,
        f"minibase: imported {args.file} as {report['organizationId']} "
        f"({sum(report['counts'].values())} rows; admin {args.admin}; "
        f"unmatched members: {', '.join(report['members']['unmatched']) or 'none'})",
    )
    return 0


# --- operator commands: accounts, orgs, members, flows, runs (through the services) -------


def _print_json(value: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _report(args: argparse.Namespace, value: Any, line: str) -> None:
    """A command's outcome: ``value`` as JSON with ``--json`` (for scripts), else ``line``."""
    if getattr(args, "json", False):
        _print_json(value)
    elif line:
        print(line)


def _read_password(env_name: str | None) -> str:
    """From ``$VAR`` (``--password-env``), a prompt on a terminal, or stdin's first line:
    never from the command line, where ``ps`` and shell history would show it."""
    import getpass

    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise SystemExit(f"minibase: error: ${env_name} is empty")
        return value
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("minibase: error: the passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise SystemExit("minibase: error: no password (use --password-env VAR or stdin)")
    return line


async def _with_store(settings: Settings, work: Any) -> Any:
    from minibase.store.database import Database
    from minibase.store.unit_of_work import Store

    database = Database(settings)
    try:
        return await work(Store(database))
    finally:
        await database.close()


def _cli_meta(command: str) -> Any:
    from minibase.services.audit import RequestMeta

    return RequestMeta(ip=None, user_agent=f"minibase {command}")


async def _user_principal(store: Any, email: str) -> Any:
    from minibase.domain.principal import Principal
    from minibase.services.org_import import user_id_by_email

    user_id = await user_id_by_email(store, email)
    if user_id is None:
        raise NotFound(f"no account with the email {email} (minibase admin create-user)")
    return Principal(kind="user", id=user_id, credential_id="cli", user_id=user_id)


def cmd_admin_people(args: argparse.Namespace) -> int:
    """``minibase admin create-user | create-org | add-member``."""
    from minibase.domain.principal import SYSTEM
    from minibase.domain.roles import Role
    from minibase.services import accounts, members, orgs

    settings = _settings({"data_dir": args.data_dir})
    _require_database(settings)
    command = args.admin_command
    password = _read_password(args.password_env) if command == "create-user" else ""

    async def work(store: Any) -> Any:
        if command == "create-user":
            return await accounts.create_user(store, args.email, password, args.name)
        if command == "create-org":
            principal = await _user_principal(store, args.admin)
            meta = _cli_meta("admin create-org")
            return await orgs.create_org(store, principal, args.name, Plan(args.plan), meta)
        meta = _cli_meta("admin add-member")
        return await members.add_member(store, args.org, args.email, Role(args.role), SYSTEM, meta)

    result = asyncio.run(_with_store(settings, work))
    if args.json:
        _print_json(result)
    elif command == "create-user":
        print(f"minibase: created {result['email']} ({result['id']})")
    elif command == "create-org":
        plan = result["billing"]["plan"]
        print(
            f"minibase: created {result['id']} ({result['name']}, {plan} plan; admin {args.admin})"
        )
    else:
        print(f"minibase: {result['user']['email']} is now {result['role']} of {args.org}")
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    """``minibase flows export | import``: one flow (or every flow of an export) as JSON,
    in the documented ``minibase-flows`` format of ``GET .../flows/{flowId}/export``."""
    settings = _settings({"data_dir": args.data_dir})
    _require_database(settings)
    if args.flows_command == "export":
        return _flows_export(settings, args)
    return _flows_import(settings, args)


def _flows_export(settings: Settings, args: argparse.Namespace) -> int:
    from minibase.domain.principal import SYSTEM
    from minibase.services.flow_formats import Scope, check_scope, export_flows

    scope = Scope(args.org, args.flow)

    async def work(store: Any) -> bytes:
        await check_scope(store, SYSTEM, scope)  # NotFound before anything is written
        return b"".join([chunk async for chunk in export_flows(store, SYSTEM, scope, "json")])

    data = asyncio.run(_with_store(settings, work))
    if args.out is None:
        sys.stdout.write(data.decode() + "\n")
        return 0
    from minibase.store.files import private_file

    partial = args.out.with_name(args.out.name + ".partial")
    with private_file(partial).open("wb") as target:
        target.write(data)
    partial.replace(args.out)
    if args.json:
        _print_json({"flowId": args.flow, "out": str(args.out), "bytes": len(data)})
    else:
        print(f"minibase: exported {args.flow} to {args.out} ({len(data)} bytes)")
    return 0


def _flows_in(raw: bytes, source: str) -> list[dict[str, Any]]:
    """The flows of a ``minibase-flows`` export, or of one plain flow JSON object."""
    import orjson

    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SystemExit(f"minibase: error: {source} is not JSON ({exc})") from None
    items = value.get("flows") if isinstance(value, dict) and "flows" in value else [value]
    if not isinstance(items, list) or not all(isinstance(f, dict) for f in items):
        raise SystemExit(f"minibase: error: {source} holds no flow objects")
    return [{k: f[k] for k in ("name", "nodes", "edges") if k in f} for f in items]


def _flows_import(settings: Settings, args: argparse.Namespace) -> int:
    from minibase.domain.principal import SYSTEM
    from minibase.services import flows

    source = "stdin" if str(args.file) == "-" else str(args.file)
    if source != "stdin" and not args.file.is_file():
        raise NotFound(f"no such file: {args.file}")
    raw = sys.stdin.buffer.read() if source == "stdin" else args.file.read_bytes()
    documents = _flows_in(raw, source)
    if args.name and len(documents) == 1:
        documents[0]["name"] = args.name

    async def work(store: Any) -> list[dict[str, Any]]:
        import orjson

        principal = await _user_principal(store, args.as_user) if args.as_user else SYSTEM
        meta = _cli_meta("flows import")
        created = []
        with _progress() as progress:
            progress.start("flows", len(documents))
            for doc in documents:
                result = await flows.create_flow(store, settings, args.org, principal, doc, meta)
                flow = orjson.loads(result.body)
                created.append({"id": flow["id"], "name": flow["name"], "version": flow["version"]})
                progress.advance(1)
        return created

    created = asyncio.run(_with_store(settings, work))
    if args.json:
        _print_json({"created": created})
    else:
        for flow in created:
            print(f"minibase: imported {flow['name']!r} as {flow['id']} into {args.org}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """``minibase runs list | show | cancel``."""
    from minibase.domain.principal import SYSTEM
    from minibase.services import runs

    settings = _settings({"data_dir": args.data_dir})
    _require_database(settings)
    command = args.runs_command

    async def work(store: Any) -> Any:
        write = command == "cancel"
        async with store.tenant(args.org, SYSTEM, write=write) as uow:
            from minibase.services.orgs import load_org

            await load_org(uow)  # NotFound for an unknown org
            if command == "list":
                return await runs.list_runs(
                    uow, flow_id=args.flow, status=args.status, limit=args.limit, cursor=None
                )
            if command == "show":
                return await runs.get_run(uow, args.run)
            return await runs.cancel_run(uow, args.run, _cli_meta("runs cancel"))

    result = asyncio.run(_with_store(settings, work))
    if args.json:
        _print_json(result)
    elif command == "list":
        for run in result["items"]:
            done = sum(1 for n in run["nodes"] if n["status"] in ("succeeded", "skipped"))
            print(
                f"{run['id']}  {run['status']:<10} {run['flowId']}  "
                f"nodes {done}/{len(run['nodes'])}  {_when(run['createdAt'])}"
            )
        if not result["items"]:
            print("minibase: no runs", file=sys.stderr)
    else:
        _print_run(result)
    return 0


def _when(ms: int | None) -> str:
    from datetime import UTC, datetime

    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _print_run(run: dict[str, Any]) -> None:
    print(f"{run['id']}  {run['status']}  flow {run['flowId']} v{run['flowVersion']}")
    print(f"  created {_when(run['createdAt'])}, finished {_when(run['finishedAt'])}")
    if run["cancelRequested"] and run["status"] not in ("canceled",):
        print("  cancel requested: the worker stops it at its next check")
    if run["error"]:
        print(f"  error: {run['error']}")
    for node in run["nodes"]:
        took = "" if node["computeTime"] is None else f"  {node['computeTime']} ms"
        cached = "  (cached)" if node["cached"] else ""
        print(f"  {node['nodeId']:<24} {node['status']:<10}{took}{cached}")


def cmd_settings(args: argparse.Namespace) -> int:
    for env, default, help_text in describe_settings():
        print(f"{env}  (default: {default})\n    {help_text}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line too (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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

    worker = sub.add_parser("worker", help="execute flow runs (any number, on any machine)")
    worker.add_argument("--data-dir", type=Path, default=None, help="data directory")

    sub.add_parser("settings", help="list every setting with its default and help")

    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="verify an organization's hash chain")
    verify.add_argument("--org", required=True, help="organization id (org_...)")
    verify.add_argument("--data-dir", type=Path, default=None, help="data directory")

    admin = sub.add_parser("admin", help="instance admins and organization plans")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    grant = admin_sub.add_parser("grant", help="make EMAIL an instance admin")
    grant.add_argument("email")
    revoke = admin_sub.add_parser("revoke", help="take a grant of instance admin back")
    revoke.add_argument("email")
    listing = admin_sub.add_parser("list", help="list instance admins")
    set_plan = admin_sub.add_parser("set-plan", help="set an organization's plan")
    set_plan.add_argument("org", help="organization id (org_...)")
    set_plan.add_argument("plan", choices=[p.value for p in Plan])
    create_user = admin_sub.add_parser(
        "create-user", help="create an account (password from --password-env or stdin)"
    )
    create_user.add_argument("email")
    create_user.add_argument("--name", default=None, help="display name")
    create_user.add_argument(
        "--password-env", default=None, help="read the password from $VAR (else prompt/stdin)"
    )
    create_org = admin_sub.add_parser("create-org", help="create an organization")
    create_org.add_argument("name")
    create_org.add_argument("--admin", required=True, help="email of its first admin")
    create_org.add_argument("--plan", choices=[p.value for p in Plan], default=Plan.FREE.value)
    add_member = admin_sub.add_parser("add-member", help="add an account to an organization")
    add_member.add_argument("org", help="organization id (org_...)")
    add_member.add_argument("email")
    add_member.add_argument("--role", choices=["admin", "editor", "viewer"], default="editor")
    for admin_parser in (grant, revoke, listing, set_plan, create_user, create_org, add_member):
        admin_parser.add_argument("--data-dir", type=Path, default=None, help="data directory")
    for admin_parser in (grant, revoke, listing, set_plan, create_user, create_org, add_member):
        admin_parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")

    flows_parser = sub.add_parser("flows", help="export and import single flows as JSON")
    flows_sub = flows_parser.add_subparsers(dest="flows_command", required=True)
    flow_export = flows_sub.add_parser("export", help="one flow as JSON (stdout or --out)")
    flow_export.add_argument("--org", required=True, help="organization id (org_...)")
    flow_export.add_argument("flow", help="flow id (flow_...)")
    flow_export.add_argument("--out", type=Path, default=None, help="file to write")
    flow_import = flows_sub.add_parser(
        "import", help="create the flow(s) of an export (or a flow JSON) in an org"
    )
    flow_import.add_argument("file", type=Path, help="JSON file, or - for stdin")
    flow_import.add_argument("--org", required=True, help="organization id (org_...)")
    flow_import.add_argument("--name", default=None, help="new name (one flow only)")
    flow_import.add_argument(
        "--as", dest="as_user", default=None, help="email of the author (default: the system)"
    )
    for flow_parser in (flow_export, flow_import):
        flow_parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
        flow_parser.add_argument("--data-dir", type=Path, default=None, help="data directory")

    runs_parser = sub.add_parser("runs", help="list, inspect and cancel flow runs")
    runs_sub = runs_parser.add_subparsers(dest="runs_command", required=True)
    runs_list = runs_sub.add_parser("list", help="an organization's runs, newest first")
    runs_list.add_argument("--flow", default=None, help="only this flow's runs")
    runs_list.add_argument("--status", default=None, help="only runs in this status")
    runs_list.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    runs_show = runs_sub.add_parser("show", help="one run with its nodes")
    runs_show.add_argument("run", help="run id (run_...)")
    runs_cancel = runs_sub.add_parser("cancel", help="cancel a queued or running run")
    runs_cancel.add_argument("run", help="run id (run_...)")
    for run_parser in (runs_list, runs_show, runs_cancel):
        run_parser.add_argument("--org", required=True, help="organization id (org_...)")
        run_parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
        run_parser.add_argument("--data-dir", type=Path, default=None, help="data directory")

    backup = sub.add_parser(
        "backup", help="back up the whole deployment while it runs (see `backup verify`)"
    )
    backup.add_argument(
        "--out", type=Path, default=None, help="archive to write (default: in the backup dir)"
    )
    backup.add_argument("--verify", action="store_true", help="verify the backup afterwards")
    backup.add_argument("--data-dir", type=Path, default=None, help="data directory")
    backup_sub = backup.add_subparsers(dest="backup_command")
    backup_verify = backup_sub.add_parser(
        "verify", help="restore a backup into a scratch target and check it"
    )
    backup_verify.add_argument("file", type=Path, help="backup archive")
    backup_verify.add_argument("--data-dir", type=Path, default=None, help="data directory")

    export = sub.add_parser("export", help="export one organization as an archive")
    export.add_argument("--org", required=True, help="organization id (org_...)")
    export.add_argument("--out", type=Path, required=True, help="archive to write")
    export.add_argument(
        "--passphrase-env", default=None, help="seal the archive with the passphrase in $VAR"
    )
    export.add_argument("--data-dir", type=Path, default=None, help="data directory")

    import_ = sub.add_parser("import", help="import an organization archive as a new org")
    import_.add_argument("file", type=Path, help="organization archive")
    import_.add_argument("--admin", required=True, help="email of the user who becomes admin")
    import_.add_argument("--ids", choices=["keep", "new"], default="keep", help="keep or new ids")
    import_.add_argument(
        "--passphrase-env", default=None, help="open a sealed archive with the passphrase in $VAR"
    )
    import_.add_argument("--data-dir", type=Path, default=None, help="data directory")

    keys_parser = sub.add_parser("keys", help="encryption at rest: master key rotation, status")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser(
        "rotate-master", help="re-wrap every org's data key under a new master key"
    )
    rotate.add_argument(
        "--resume",
        action="store_true",
        help="make no new key: finish re-wrapping under the current one (after a stop, or "
        "after setting a new MINIBASE_MASTER_KEY)",
    )
    rotate.add_argument(
        "--limit", type=int, default=None, help="re-wrap at most N data keys, then stop"
    )
    keys_status = keys_sub.add_parser("status", help="master key ids and the data keys under each")
    for keys_cmd in (rotate, keys_status):
        keys_cmd.add_argument("--json", action="store_true", help="print JSON (for scripts)")
        keys_cmd.add_argument("--data-dir", type=Path, default=None, help="data directory")

    restore = sub.add_parser("restore", help="restore a backup into an empty data dir or database")
    restore.add_argument("file", type=Path, help="backup archive")
    restore.add_argument("--data-dir", type=Path, default=None, help="data directory")
    for data_parser in (backup, backup_verify, export, import_, restore):
        data_parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    return parser


def _add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (8000)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data directory (./minibase-data)"
    )
    parser.add_argument(
        "--tls-cert", default=None, help="PEM certificate file: serve HTTPS and WSS"
    )
    parser.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")


COMMANDS = {
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "worker": cmd_worker,
    "settings": cmd_settings,
    "audit": cmd_audit_verify,
    "admin": cmd_admin,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "keys": cmd_keys,
    "export": cmd_export,
    "import": cmd_import,
    "flows": cmd_flows,
    "runs": cmd_runs,
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
    except MinibaseError as exc:
        print(f"minibase: error: {exc.message}", file=sys.stderr)
        # What the command was asked about does not exist: a usage error.
        return 2 if exc.status == 404 else 1
    except (SQLAlchemyError, OSError) as exc:
        # Every failure is one clear line, never a driver's traceback.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"minibase: error: {reason[0] if reason else type(exc).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 1
        raise
    except Exception as exc:  # noqa: BLE001 - the last net: one line, never a traceback
        reason = str(exc).strip().splitlines()
        detail = reason[0] if reason else "no detail"
        print(f"minibase: error: {type(exc).__name__}: {detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    os._exit(main())
