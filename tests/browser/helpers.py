"""Steps a person takes in the dashboard, shared by the browser tests."""

from __future__ import annotations

import itertools
import re

from playwright.sync_api import Page, expect

_ids = itertools.count()
PASSWORD = "correct horse battery staple"


def unique_email(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}-{id(_ids)}@example.test"


def sign_up(page: Page, email: str, name: str, path: str = "/signup") -> None:
    page.goto(path)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def create_org(page: Page, name: str) -> str:
    page.get_by_label("Organization name").fill(name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name="Flows")).to_be_visible()
    match = re.search(r"/orgs/([^/?#]+)", page.url)
    assert match
    return match.group(1)


def create_flow(page: Page, name: str) -> str:
    page.get_by_label("New flow name").fill(name)
    page.get_by_role("button", name="Create flow").click()
    expect(page.get_by_test_id("connection")).to_have_text("Live")
    match = re.search(r"/flows/([^/?#]+)", page.url)
    assert match
    return match.group(1)


def token_of(page: Page) -> str:
    token = page.evaluate("localStorage.getItem('minibase.token')")
    assert isinstance(token, str)
    return token
