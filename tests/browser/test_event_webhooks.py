"""The org's outbound event webhooks in the dashboard (admins): add a URL for some events
(the signing secret shown once), see its deliveries, succeeded or failing, delete it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, off_loop, screenshot, start_server
from tests.browser.helpers import create_org, sign_up, token_of, unique_email
from tests.process import ServerProcess
from tests.services import PostgresTemplate


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that may send to loopback (the receiver below), retrying after a minute."""
    data_dir = tmp_path_factory.mktemp("event-webhooks") / "data"
    env = {
        "MINIBASE_WEBHOOK_ALLOW_PRIVATE": "true",
        "MINIBASE_WEBHOOK_RETRY_BASE_SECONDS": "60",
    }
    proc, pg_name = start_server(str(request.param), data_dir, request, env)
    try:
        yield proc
    finally:
        proc.stop()
        if pg_name:
            off_loop(lambda: PostgresTemplate.drop(pg_name))


class Receiver:
    """An HTTP server on loopback: ``/ok`` answers 204, anything else 500; keeps what came."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204 if self.path == "/ok" else 500)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{mac}" in headers["webhook-signature"].split()


def test_event_webhooks_page(pages: Pages, server: ServerProcess, receiver: Receiver) -> None:
    page = pages.new()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_up(page, unique_email("events"), "Events")
    org_id = create_org(page, "Listeners")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Event webhooks")).to_be_visible()
    expect(page.get_by_text("No event webhooks.")).to_be_visible()

    # No event chosen: the server's sentence, naming the field.
    page.get_by_label("Target URL").fill(receiver.url + "/ok")
    page.get_by_role("button", name="Add event webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("events")
    assert "{" not in page.get_by_role("alert").inner_text()

    # A receiver that answers 204, for flow.created; the secret is shown once.
    page.get_by_label("flow.created").check()
    page.get_by_role("button", name="Add event webhook").click()
    shown = page.get_by_label("Event webhook secret")
    expect(shown).to_be_visible()
    secret = shown.input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Done").click()
    # And one that fails (500), for every flow event.
    page.get_by_label("Target URL").fill(receiver.url + "/broken")
    for name in ("flow.created", "flow.updated", "flow.deleted"):
        page.get_by_label(name).check()
    page.get_by_role("button", name="Add event webhook").click()
    table = page.get_by_role("table", name="Event webhooks")
    expect(table.locator("tbody tr")).to_have_count(2)

    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token_of(page)}"}
    ) as http:
        listed = http.get(f"/v1/orgs/{org_id}/event-webhooks").json()["items"]
        assert all("secret" not in w for w in listed)
        flow = http.post(f"/v1/orgs/{org_id}/flows", json={"name": "Announced"})
        assert flow.status_code == 201

    # Deliveries: the good receiver's succeeded, signed with the secret shown.
    ok_row = table.get_by_role("row", name=receiver.url + "/ok")
    ok_row.get_by_role("button", name="Deliveries").click()
    deliveries = page.get_by_role("region", name="Deliveries")
    expect(deliveries.get_by_test_id("delivery-status")).to_have_text(["succeeded"])
    expect(deliveries).to_contain_text("flow.created")
    expect(deliveries).to_contain_text("HTTP 204")
    _path, headers, body = next(r for r in receiver.received if r[0] == "/ok")
    assert signature_ok(secret, headers, body)
    assert b"flow.created" in body
    screenshot(page, "event-webhooks")

    # The failing one: still pending, with the receiver's answer and the next attempt.
    broken_row = table.get_by_role("row", name=receiver.url + "/broken")
    broken_row.get_by_role("button", name="Deliveries").click()
    expect(deliveries.get_by_test_id("delivery-status")).to_have_text(["pending"])
    expect(deliveries).to_contain_text("HTTP 500")
    expect(deliveries.locator("tbody tr td").last).not_to_have_text("—")

    # Delete: gone from the list and from the server.
    broken_row.get_by_role("button", name="Delete").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(deliveries).to_have_count(0)
