"""A flow's inbound webhooks in the dashboard: create (the secret shown once, copied),
rotate the secret, delete; the secrets shown are the ones that sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, off_loop, screenshot, start_server
from tests.browser.helpers import create_org, sign_up, token_of, unique_email
from tests.browser.test_schedules import FLOW, viewer_page
from tests.process import ServerProcess
from tests.services import PostgresTemplate


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that runs flows itself (the runs webhooks start)."""
    data_dir = tmp_path_factory.mktemp("webhooks") / "data"
    env = {"MINIBASE_RUN_IN_SERVER": "always"}
    proc, pg_name = start_server(str(request.param), data_dir, request, env)
    try:
        yield proc
    finally:
        proc.stop()
        if pg_name:
            off_loop(lambda: PostgresTemplate.drop(pg_name))


def send(http: httpx.Client, url: str, secret: str, msg_id: str) -> httpx.Response:
    """POST to a webhook URL signed as Standard Webhooks with ``secret``."""
    body = b'{"who": "the hook"}'
    stamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    return http.post(url, content=body, headers=headers)


def test_webhooks_panel(pages: Pages, server: ServerProcess) -> None:
    page = pages.new()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.on("dialog", lambda dialog: dialog.accept())
    sign_up(page, unique_email("hook"), "Hook")
    org_id = create_org(page, "Hooks")
    auth = {"Authorization": f"Bearer {token_of(page)}"}
    with httpx.Client(base_url=server.base_url, headers=auth) as http:
        flow_id = http.post(f"/v1/orgs/{org_id}/flows", json=FLOW).json()["id"]
        listed = f"/v1/orgs/{org_id}/flows/{flow_id}/webhooks"

        page.goto(f"/orgs/{org_id}/flows/{flow_id}")
        page.get_by_role("button", name="Webhooks").click()
        panel = page.get_by_role("complementary", name="Webhooks")
        expect(panel).to_contain_text("No webhooks yet.")

        # Create: the secret is shown once, and Copy puts it on the clipboard.
        panel.get_by_label("Webhook name").fill("From CI")
        panel.get_by_label("Webhook name").press("Enter")
        shown = panel.get_by_label("Webhook secret")
        expect(shown).to_be_visible()
        secret = shown.input_value()
        assert secret.startswith("whsec_")
        panel.get_by_role("button", name="Copy", exact=True).click()
        expect(panel).to_contain_text("Copied to the clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        item = panel.get_by_role("listitem", name="Webhook From CI")
        hook_url = item.get_by_label("URL of From CI").input_value()
        (webhook,) = http.get(listed).json()["items"]
        assert "secret" not in webhook and hook_url == webhook["url"]
        screenshot(page, "webhooks")

        # The secret shown is the one that signs: a signed request starts a run.
        path = "/v1/hooks/" + webhook["id"]
        assert send(http, path, secret, "msg_1").status_code == 202
        panel.get_by_role("button", name="Done").click()
        expect(shown).to_have_count(0)
        page.reload()
        page.get_by_role("button", name="Webhooks").click()
        expect(item).to_be_visible()
        assert secret not in page.content()  # never shown again

        # Rotate: a new secret, shown once; the old one stops working at once.
        item.get_by_role("button", name="Rotate secret").click()
        expect(shown).to_be_visible()
        rotated = shown.input_value()
        assert rotated.startswith("whsec_") and rotated != secret
        expect(item).to_contain_text("rotated")
        assert send(http, path, secret, "msg_2").status_code == 401
        assert send(http, path, rotated, "msg_3").status_code == 202

        # A viewer sees the webhooks and cannot change them or see secrets.
        viewer = viewer_page(pages, http, org_id)
        viewer.goto(f"/orgs/{org_id}/flows/{flow_id}")
        viewer.get_by_role("button", name="Webhooks").click()
        seen = viewer.get_by_role("complementary", name="Webhooks")
        expect(seen.get_by_role("listitem", name="Webhook From CI")).to_be_visible()
        expect(seen.get_by_role("button", name="Rotate secret")).to_have_count(0)
        expect(seen.get_by_role("form")).to_have_count(0)

        # Delete: gone, and its URL starts nothing.
        item.get_by_role("button", name="Delete").click()
        expect(panel).to_contain_text("No webhooks yet.")
        assert http.get(listed).json()["items"] == []
        assert send(http, path, rotated, "msg_4").status_code == 404
