"""Real Chromium (Debian's ``chromium``) through Playwright against a real ``minibase serve``.

No browser is downloaded: Playwright launches ``/usr/bin/chromium``. Screenshots go to
``test-artifacts/screenshots/`` (or ``$MINIBASE_TEST_ARTIFACTS/screenshots/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.process import ServerProcess
from tests.services import PostgresTemplate, SqliteTemplate, pg_url, skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MINIBASE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
TIMEOUT_MS = 20_000
T = TypeVar("T")
# Assertions wait as long as actions (the machine is shared; servers are real).
expect.set_options(timeout=TIMEOUT_MS)


def off_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` in another thread: Playwright's sync API keeps an event loop running in
    this one, and the PostgreSQL helpers call ``asyncio.run``."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def start_server(
    backend: str, data_dir: Path, request: pytest.FixtureRequest, env: dict[str, str]
) -> tuple[ServerProcess, str | None]:
    """A migrated ``minibase serve`` on ``backend``; returns it and its PostgreSQL db name."""
    pg_name = None
    env = {"MINIBASE_COLLAB_VERSION_SECONDS": "0.2", **env}
    if backend == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        template.new_database(data_dir)
    else:
        pg: PostgresTemplate | None = request.getfixturevalue("postgres_template")
        if pg is None:
            skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
            raise AssertionError("unreachable")
        pg_name = off_loop(pg.new_database)
        env["MINIBASE_DATABASE_URL"] = pg_url(pg_name)
    server = ServerProcess(data_dir, env=env)
    server.wait_ready()
    return server, pg_name


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    proc, pg_name = start_server(str(request.param), data_dir, request, {})
    try:
        yield proc
    finally:
        proc.stop()
        if pg_name:
            off_loop(lambda: PostgresTemplate.drop(pg_name))


# Module scope: Playwright's sync API runs an event loop in this thread while it is open,
# which the asyncio tests of other modules must not find running.
@pytest.fixture(scope="module")
def playwright(
    sqlite_template: SqliteTemplate, postgres_template: PostgresTemplate | None
) -> Iterator[Playwright]:
    # The database templates are made first, before Playwright's loop runs in this thread.
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
    )
    yield browser
    browser.close()


class Pages:
    """New browser contexts (separate cookies and storage: separate people)."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self._contexts: list[object] = []
        self.external_requests: list[str] = []

    def new(self, width: int = 1280, height: int = 800) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(TIMEOUT_MS)
        self._contexts.append(context)
        page = context.new_page()
        host = self.base_url.split("//", 1)[1]

        def note(req: object) -> None:
            url = str(getattr(req, "url", ""))
            if url.split("//", 1)[-1].split("/", 1)[0] != host and not url.startswith("data:"):
                self.external_requests.append(url)

        page.on("request", note)
        return page

    def close(self) -> None:
        for context in self._contexts:
            context.close()  # type: ignore[attr-defined]


@pytest.fixture
def pages(browser: Browser, server: ServerProcess) -> Iterator[Pages]:
    made = Pages(browser, server.base_url)
    yield made
    made.close()
    assert made.external_requests == [], "the dashboard must request nothing from another host"


def screenshot(page: Page, name: str) -> None:
    out = ARTIFACTS / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"))
