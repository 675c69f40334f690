"""The other pages: runs, usage, the audit log, backups; readable errors; a narrow window;
forms used with the keyboard alone."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, off_loop, screenshot, start_server
from tests.browser.helpers import create_org, sign_up, unique_email
from tests.process import ServerProcess
from tests.services import PostgresTemplate

ADMIN = "root-admin@example.test"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server with an instance admin and a backup directory holding one verified backup."""
    root = tmp_path_factory.mktemp("pages")
    env = {
        "MINIBASE_INSTANCE_ADMINS": ADMIN,
        "MINIBASE_BACKUP_DIR": str(root / "backups"),
        # The server runs flows itself on PostgreSQL too (else `minibase worker` does).
        "MINIBASE_RUN_IN_SERVER": "always",
    }
    proc, pg_name = start_server(str(request.param), root / "data", request, env)
    subprocess.run(
        [sys.executable, "-m", "minibase", "backup", "--verify", "--data-dir", str(root / "data")],
        env=proc.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield proc
    finally:
        proc.stop()
        if pg_name:
            off_loop(lambda: PostgresTemplate.drop(pg_name))


def test_runs_usage_audit_and_backups(pages: Pages, server: ServerProcess) -> None:
    page = pages.new()
    sign_up(page, ADMIN, "Root")
    org_id = create_org(page, "Instance")
    token = page.evaluate("localStorage.getItem('minibase.token')")
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=auth) as http:
        flow = http.post(
            f"/v1/orgs/{org_id}/flows",
            json={
                "name": "Compute",
                "nodes": [
                    {
                        "id": "c",
                        "type": "constant",
                        "position": {"x": 0, "y": 0},
                        "data": {"value": 42},
                    },
                    {"id": "o", "type": "output", "position": {"x": 0, "y": 120}, "data": {}},
                ],
                "edges": [{"id": "e", "source": "c", "target": "o"}],
            },
        ).json()

    # Runs: start one from the canvas; it and each node's status and time arrive live.
    page.goto(f"/orgs/{org_id}/flows/{flow['id']}")
    page.get_by_role("button", name="Runs").click()
    page.get_by_role("button", name="Run flow").click()
    runs = page.get_by_role("complementary", name="Runs")
    expect(runs.get_by_test_id("run-status").first).to_have_text("succeeded")
    details = runs.get_by_role("region", name="Run details")
    expect(details.locator("tr[data-node-id='o']")).to_contain_text("succeeded")
    expect(details.locator("tr[data-node-id='c']")).to_contain_text(re.compile(r"\d+ ms"))
    screenshot(page, "runs")
    page.get_by_role("button", name="Outputs").click()
    expect(page.get_by_role("complementary", name="Node outputs")).to_contain_text("ms")

    page.goto(f"/orgs/{org_id}/usage")
    expect(page.get_by_role("progressbar", name="Flows")).to_be_visible()
    expect(page.get_by_text(re.compile(r"1 of 50"))).to_be_visible()
    screenshot(page, "usage")

    page.goto(f"/orgs/{org_id}/audit")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_role("status")).to_contain_text("The chain is intact")
    page.get_by_label("Action").fill("flow.create")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("table", name="Audit events").locator("tbody tr")
    expect(rows).to_have_count(1)
    screenshot(page, "audit")

    page.get_by_role("link", name="Backups").click()
    expect(page.get_by_role("table", name="Backups")).to_contain_text("ok (")
    screenshot(page, "backups")


def test_errors_are_sentences_and_forms_work_by_keyboard(pages: Pages) -> None:
    page = pages.new()
    page.goto("/login")
    # Keys go nowhere until the page has drawn its form: wait for it, not for time.
    expect(page.get_by_role("textbox", name="Email")).to_be_editable()
    # Keyboard only: tab to each field, Enter submits.
    page.keyboard.press("Tab")
    page.keyboard.type("nobody@example.test")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong password here")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    assert "{" not in alert.inner_text()  # a sentence, never raw JSON
    screenshot(page, "login-error")

    email = unique_email("kb")
    sign_up(page, email, "Keys")
    create_org(page, "Narrow")
    # A validation error reads as a sentence naming the field.
    page.get_by_label("New flow name").fill("x" * 300)
    page.get_by_label("New flow name").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("name")
    assert "{" not in page.get_by_role("alert").inner_text()


def test_narrow_window(pages: Pages) -> None:
    page = pages.new(width=390, height=800)
    sign_up(page, unique_email("narrow"), "Narrow")
    org_id = create_org(page, "Small screen")
    page.get_by_label("New flow name").fill("Pocket")
    page.get_by_role("button", name="Create flow").click()
    expect(page.get_by_test_id("connection")).to_have_text("Live")
    page.get_by_role("button", name="Add node").click()
    expect(page.locator(".react-flow__node")).to_have_count(1)
    # The canvas has a height of its own there: the node is drawn, not just in the DOM.
    expect(page.locator(".react-flow__node")).to_be_in_viewport()
    # Nothing wider than the window: no horizontal scrolling of the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "narrow-canvas")
    page.goto(f"/orgs/{org_id}/members")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "narrow-members")
