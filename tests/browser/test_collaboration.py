"""People working together in the dashboard, each in their own browser context.

Sign up, create an org and a flow; invite an editor and a viewer by link; two editors see
each other's nodes appear, move and connect, and each other's cursors; the viewer's canvas
is read-only; a version is restored; an API key is created, shown once, and revoked.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Pages, screenshot
from tests.browser.helpers import create_flow, create_org, sign_up, unique_email
from tests.process import ServerProcess


def invite(page: Page, org_id: str, email: str, role: str) -> str:
    page.goto(f"/orgs/{org_id}/members")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Invite").click()
    link = page.get_by_label("Invitation link")
    expect(link).to_have_value(re.compile(r"/invite#"))
    return link.input_value()


def join_by_link(page: Page, link: str, email: str, name: str) -> None:
    """Open the link signed out, sign up from there, accept, open the org."""
    page.goto(link)
    expect(page.get_by_role("heading", name="You are invited")).to_be_visible()
    assert "#" not in page.url  # the token left the address bar at once
    page.get_by_role("link", name="Create an account").click()
    sign_up_here(page, email, name)
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_role("status")).to_contain_text("You joined")
    page.get_by_role("button", name=re.compile("^Open ")).click()
    expect(page.get_by_role("heading", name="Flows")).to_be_visible()


def sign_up_here(page: Page, email: str, name: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign up").click()


def node_ids(page: Page) -> set[str]:
    return set(page.locator(".react-flow__node").evaluate_all("els => els.map(e => e.dataset.id)"))


def node_at(page: Page, node_id: str) -> Locator:
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def transform_of(page: Page, node_id: str) -> str:
    """The node's place on the canvas (flow coordinates: the same in every browser)."""
    return str(node_at(page, node_id).evaluate("e => e.style.transform"))


def wait_for_transform(page: Page, node_id: str, transform: str) -> None:
    page.wait_for_function(
        "([id, t]) => document.querySelector(`.react-flow__node[data-id='${id}']`)"
        "?.style.transform === t",
        arg=[node_id, transform],
    )


def add_node(page: Page) -> str:
    before = node_ids(page)
    page.get_by_role("button", name="Add node").click()
    expect(page.locator(".react-flow__node")).to_have_count(len(before) + 1)
    (new,) = node_ids(page) - before
    return new


def drag(page: Page, node_id: str, dx: float, dy: float) -> None:
    box = page.locator(f'.react-flow__node[data-id="{node_id}"]').bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=5)
    page.mouse.move(x + dx, y + dy, steps=5)
    page.mouse.up()


def test_people_edit_one_flow_together(pages: Pages, server: ServerProcess) -> None:
    ada = pages.new()
    ada.on("dialog", lambda dialog: dialog.accept())
    sign_up(ada, unique_email("ada"), "Ada")
    org_id = create_org(ada, "Engines")

    # Invitations by link: an editor and a viewer, each in their own browser.
    bob_email, cy_email = unique_email("bob"), unique_email("cy")
    bob_link = invite(ada, org_id, bob_email, "editor")
    cy_link = invite(ada, org_id, cy_email, "viewer")
    screenshot(ada, "members")
    bob = pages.new()
    join_by_link(bob, bob_link, bob_email, "Bob")
    cy = pages.new()
    join_by_link(cy, cy_link, cy_email, "Cy")

    ada.goto(f"/orgs/{org_id}")
    flow_id = create_flow(ada, "Together")
    flow_path = f"/orgs/{org_id}/flows/{flow_id}"
    bob.goto(flow_path)
    expect(bob.get_by_test_id("connection")).to_have_text("Live")

    # Each sees the other's node appear...
    a_node = add_node(ada)
    expect(bob.locator(f'.react-flow__node[data-id="{a_node}"]')).to_be_visible()
    b_node = add_node(bob)
    expect(ada.locator(f'.react-flow__node[data-id="{b_node}"]')).to_be_visible()

    # ...and move.
    before = transform_of(bob, a_node)
    drag(ada, a_node, 160, 40)
    moved = transform_of(ada, a_node)
    assert moved != before
    wait_for_transform(bob, a_node, moved)
    drag(bob, b_node, -120, 60)
    b_moved = transform_of(bob, b_node)
    wait_for_transform(ada, b_node, b_moved)

    # ...and connect: Ada drags from her node's source handle to Bob's node's target handle.
    source = ada.locator(f'.react-flow__node[data-id="{a_node}"] .react-flow__handle.source')
    target = ada.locator(f'.react-flow__node[data-id="{b_node}"] .react-flow__handle.target')
    source.drag_to(target)
    expect(ada.locator(".react-flow__edge")).to_have_count(1)
    expect(bob.locator(".react-flow__edge")).to_have_count(1)

    # Presence: Bob sees Ada's cursor while it is over the canvas.
    canvas = ada.get_by_test_id("canvas").bounding_box()
    assert canvas is not None
    ada.mouse.move(canvas["x"] + 40, canvas["y"] + 40)
    ada.mouse.move(canvas["x"] + 80, canvas["y"] + 60, steps=3)
    expect(bob.get_by_test_id("peer-cursor")).to_contain_text("Ada")
    screenshot(bob, "canvas-together")

    # The viewer sees the flow live but cannot change it.
    cy.goto(flow_path)
    expect(cy.get_by_test_id("read-only")).to_be_visible()
    expect(cy.get_by_role("button", name="Add node")).to_have_count(0)
    expect(cy.locator(".react-flow__node")).to_have_count(2)
    cy_before = transform_of(cy, a_node)
    drag(cy, a_node, 100, 100)
    assert transform_of(cy, a_node) == cy_before
    cy.keyboard.press("Delete")
    expect(cy.locator(".react-flow__node")).to_have_count(2)
    screenshot(cy, "canvas-viewer")

    # History: restore version 1 (the empty flow); everyone's canvas follows.
    with httpx.Client(base_url=server.base_url) as http:
        token = ada.evaluate("localStorage.getItem('minibase.token')")
        headers = {"Authorization": f"Bearer {token}"}

        def version() -> int:
            r = http.get(f"/v1/orgs/{org_id}/flows/{flow_id}", headers=headers)
            return int(r.json()["version"])

        assert version() > 1
    ada.get_by_role("button", name="History").click()
    history = ada.get_by_role("complementary", name="Version history")
    expect(history.locator("li[data-version='1']")).to_be_visible()
    history.locator("li").first.get_by_role("button", name="Changes").click()
    expect(history.get_by_role("region")).to_contain_text(re.compile("Added|Changed"))
    screenshot(ada, "history")
    history.locator("li[data-version='1']").get_by_role("button", name="Restore").click()
    expect(ada.locator(".react-flow__node")).to_have_count(0)
    expect(bob.locator(".react-flow__node")).to_have_count(0)
    expect(cy.locator(".react-flow__node")).to_have_count(0)

    # API keys: shown once, then revoked; the key stops working at once.
    ada.goto(f"/orgs/{org_id}/keys")
    ada.get_by_label("Key name").fill("ci")
    ada.get_by_role("button", name="Create key").click()
    key = ada.get_by_label("New API key").input_value()
    assert key
    with httpx.Client(base_url=server.base_url) as http:
        auth = {"Authorization": f"Bearer {key}"}
        assert http.get(f"/v1/orgs/{org_id}/flows", headers=auth).status_code == 200
        screenshot(ada, "keys")
        ada.get_by_role("button", name="Done").click()
        expect(ada.get_by_label("New API key")).to_have_count(0)
        ada.get_by_role("row", name=re.compile("^ci")).get_by_role("button", name="Revoke").click()
        expect(ada.get_by_role("row", name=re.compile("^ci"))).to_have_count(0)
        assert http.get(f"/v1/orgs/{org_id}/flows", headers=auth).status_code == 401
