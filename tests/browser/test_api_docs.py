"""Issue 12, item 9: the interactive API reference (``/docs``) loads every file from the
server itself (no CDN), and renders the operations of ``/openapi.json`` under the page
policy (no inline script)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Pages


def test_api_docs_render_from_the_package_alone(pages: Pages) -> None:
    page = pages.new()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Minibase")
    expect(
        page.locator(".opblock-summary-path", has_text="/v1/orgs/{orgId}/flows").first
    ).to_be_visible()
    assert errors == []
    # The ``pages`` fixture fails the test if anything came from another host.
