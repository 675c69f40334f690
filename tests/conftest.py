"""Fixtures: every test that takes ``settings`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from minibase.app import create_app
from minibase.config import Settings
from tests.services import (
    PostgresTemplate,
    SqliteTemplate,
    pg_url,
    postgres_available,
    skip_or_fail,
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate | None]:
    if not postgres_available():
        yield None
        return
    template = PostgresTemplate()
    yield template
    template.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Settings]:
    """Settings for a fresh, migrated database of the parametrized backend."""
    data_dir = tmp_path / "data"
    if backend == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        template.new_database(data_dir)
        yield Settings(data_dir=data_dir)
        return
    pg: PostgresTemplate | None = request.getfixturevalue("postgres_template")
    if pg is None:
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
        return
    name = pg.new_database()
    try:
        yield Settings(data_dir=data_dir, database_url=pg_url(name))
    finally:
        PostgresTemplate.drop(name)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, run_migrations=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    """``host:port`` of ``app`` served on a real loopback socket."""
    from tests.servers import serve_in_process

    async with serve_in_process(app) as url:
        yield url
