"""The dashboard as people use it, in real Chromium."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Pages, screenshot
from tests.browser.helpers import create_flow, create_org, sign_up, unique_email
from tests.process import ServerProcess


def test_served_without_node(server: ServerProcess) -> None:
    """The built files ship in the package: pages, assets (gzip, cacheable), the client."""
    with httpx.Client(base_url=server.base_url) as http:
        for path in ("/", "/orgs/org_x/flows/flow_y", "/invite", "/examples/editor"):
            page = http.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert "default-src 'self'" in page.headers["content-security-policy"]
            assert "/static/v" in page.text
        module = http.get("/client/minibase.js", headers={"Accept-Encoding": "gzip"})
        assert module.status_code == 200
        assert module.headers["content-encoding"] == "gzip"
        assert module.headers["content-type"].startswith("text/javascript")
        assert "createFlowStore" in module.text
        types = http.get("/client/minibase.d.ts")
        assert "createClient" in types.text
        again = http.get("/client/minibase.js", headers={"If-None-Match": module.headers["etag"]})
        assert again.status_code == 304
        missing = http.get("/static/../pyproject.toml")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        assert http.get("/static/assets/nope.js").status_code == 404
        # The page's references carry the version in the path; those may be kept for good.
        ref = re.search(r'src="(/static/v[^"]+)"', http.get("/").text)
        assert ref
        asset = http.get(ref.group(1))
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
        plain = ref.group(1).replace("/v", "/", 1).split("/", 3)
        assert http.get("/static/" + plain[3]).headers["cache-control"] == "no-cache"


def test_sign_up_create_org_and_flow_add_a_node(pages: Pages) -> None:
    page = pages.new()
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")
    sign_up(page, unique_email("ada"), "Ada")
    expect(page.get_by_role("heading", name="Create your first organization")).to_be_visible()
    create_org(page, "Analytical Engines")
    screenshot(page, "flows-empty")
    create_flow(page, "First flow")
    page.get_by_role("button", name="Add node").click()
    expect(page.locator(".react-flow__node")).to_have_count(1)
    screenshot(page, "canvas")
    page.get_by_role("link", name="← Flows").click()
    row = page.get_by_role("row", name="First flow")
    expect(row).to_contain_text("1")
    screenshot(page, "flows")
    page.reload()  # a second load of a page comes from the server again, never a 304
    expect(page.get_by_role("heading", name="Flows")).to_be_visible()
