"""A flow's schedules in the dashboard: list, create, edit, pause, delete; the next and last
run times arrive live; errors read as sentences; a viewer only reads."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Pages, off_loop, screenshot, start_server
from tests.browser.helpers import PASSWORD, create_org, sign_up, token_of, unique_email
from tests.process import ServerProcess
from tests.services import PostgresTemplate


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that fires schedules promptly and runs their flows itself."""
    env = {"MINIBASE_RUN_IN_SERVER": "always", "MINIBASE_SCHEDULE_POLL_SECONDS": "0.2"}
    data_dir = tmp_path_factory.mktemp("schedules") / "data"
    proc, pg_name = start_server(str(request.param), data_dir, request, env)
    try:
        yield proc
    finally:
        proc.stop()
        if pg_name:
            off_loop(lambda: PostgresTemplate.drop(pg_name))


FLOW = {
    "name": "Every so often",
    "nodes": [
        {"id": "in", "type": "input", "position": {"x": 0, "y": 0}, "data": {"name": "who"}},
        {"id": "out", "type": "output", "position": {"x": 0, "y": 120}, "data": {}},
    ],
    "edges": [{"id": "e", "source": "in", "target": "out"}],
}


def test_schedules_panel(pages: Pages, server: ServerProcess) -> None:
    page = pages.new()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_up(page, unique_email("cron"), "Cron")
    org_id = create_org(page, "Timetables")
    auth = {"Authorization": f"Bearer {token_of(page)}"}
    with httpx.Client(base_url=server.base_url, headers=auth) as http:
        flow_id = http.post(f"/v1/orgs/{org_id}/flows", json=FLOW).json()["id"]
        listed = f"/v1/orgs/{org_id}/flows/{flow_id}/schedules"

        page.goto(f"/orgs/{org_id}/flows/{flow_id}")
        page.get_by_role("button", name="Schedules").click()
        panel = page.get_by_role("complementary", name="Schedules")
        expect(panel).to_contain_text("No schedules yet.")

        # Errors: the server's, naming the field, and the page's own for inputs; sentences.
        panel.get_by_label("Cron expression").fill("99 * * * *")
        panel.get_by_label("Cron expression").press("Enter")
        alert = panel.get_by_role("alert")
        expect(alert).to_contain_text("cron")
        assert "{" not in alert.inner_text()
        panel.get_by_label("Cron expression").fill("0 9 * * 1-5")
        panel.get_by_label("Time zone").fill("Nowhere/Land")
        panel.get_by_role("button", name="Add schedule").click()
        expect(alert).to_contain_text("timezone")
        panel.get_by_label("Time zone").fill("Europe/Paris")
        panel.get_by_label("Inputs (JSON object)").fill("[1, 2]")
        panel.get_by_role("button", name="Add schedule").click()
        expect(alert).to_contain_text("Inputs must be a JSON object")
        panel.get_by_label("Inputs (JSON object)").fill('{"who": "the timetable"}')
        panel.get_by_role("button", name="Add schedule").click()

        # Created: listed with its next run; the form is empty again.
        item = panel.get_by_role("listitem", name="Schedule 0 9 * * 1-5")
        expect(item).to_contain_text("Europe/Paris")
        expect(item.get_by_test_id("next-run")).not_to_have_text("—")
        expect(item.get_by_test_id("last-run")).to_have_text("never")
        expect(panel.get_by_label("Cron expression")).to_have_value("")
        (schedule,) = http.get(listed).json()["items"]
        assert (schedule["cron"], schedule["timezone"]) == ("0 9 * * 1-5", "Europe/Paris")
        assert schedule["inputs"] == {"who": "the timetable"} and schedule["enabled"] is True

        # Edit: every second; the fires' times arrive live, and the runs carry the inputs.
        item.get_by_role("button", name="Edit").click()
        expect(panel.get_by_label("Cron expression")).to_have_value("0 9 * * 1-5")
        expect(panel.get_by_label("Inputs (JSON object)")).to_have_value(
            re.compile("the timetable")
        )
        panel.get_by_label("Cron expression").fill("* * * * * *")
        panel.get_by_role("button", name="Save schedule").click()
        item = panel.get_by_role("listitem", name="Schedule * * * * * *")
        expect(item.get_by_test_id("last-run")).not_to_have_text("never")
        runs = http.get(f"/v1/orgs/{org_id}/runs", params={"flowId": flow_id}).json()["items"]
        assert runs and runs[-1]["trigger"] == {"type": "schedule", "id": schedule["id"]}
        screenshot(page, "schedules")

        # Pause it: no next run.
        item.get_by_role("button", name="Edit").click()
        panel.get_by_label("Enabled").uncheck()
        panel.get_by_role("button", name="Save schedule").click()
        expect(item.get_by_test_id("next-run")).to_have_text("paused")
        (paused,) = http.get(listed).json()["items"]
        assert paused["enabled"] is False and paused["nextRunAt"] is None

        # A viewer (on a narrow screen) sees the schedules and cannot change them.
        viewer = viewer_page(pages, http, org_id, width=390)
        viewer.goto(f"/orgs/{org_id}/flows/{flow_id}")
        viewer.get_by_role("button", name="Schedules").click()
        seen = viewer.get_by_role("complementary", name="Schedules")
        expect(seen.get_by_role("listitem", name="Schedule * * * * * *")).to_contain_text("paused")
        expect(seen.get_by_role("button")).to_have_count(0)
        expect(seen.get_by_role("form")).to_have_count(0)
        assert viewer.evaluate("document.documentElement.scrollWidth") <= 390
        expect(viewer.locator(".react-flow__node").first).to_be_in_viewport()
        screenshot(viewer, "narrow-schedules")

        # Delete: gone here, for the viewer (live) and on the server.
        item.get_by_role("button", name="Delete").click()
        expect(panel).to_contain_text("No schedules yet.")
        expect(seen).to_contain_text("No schedules yet.")
        assert http.get(listed).json()["items"] == []


def viewer_page(pages: Pages, admin: httpx.Client, org_id: str, width: int = 1280) -> Page:
    """A viewer of the org, signed in to the dashboard in a browser context of their own."""
    email = unique_email("viewer")
    invitation = admin.post(
        f"/v1/orgs/{org_id}/invitations", json={"email": email, "role": "viewer"}
    ).json()
    with httpx.Client(base_url=admin.base_url) as http:
        token = http.post("/v1/auth/signup", json={"email": email, "password": PASSWORD}).json()[
            "token"
        ]
        accepted = http.post(
            "/v1/invitations/accept",
            json={"token": invitation["token"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert accepted.status_code == 200, accepted.text
    page = pages.new(width=width)
    page.goto("/login")
    page.evaluate("t => localStorage.setItem('minibase.token', t)", token)
    return page
