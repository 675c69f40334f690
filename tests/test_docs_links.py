"""The docs stand on their own: every link points at a file of this repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
OUTSIDE = ("../shared", "DESIGN.md", "CONTRACT.md", "FEATURE-PLAN.md")


def test_relative_links_resolve_inside_the_repository() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_no_page_sends_readers_outside_the_repository() -> None:
    found = [
        f"{page.relative_to(ROOT)}: {name}"
        for page in PAGES
        for name in OUTSIDE
        if name in page.read_text(encoding="utf-8")
    ]
    assert found == []
