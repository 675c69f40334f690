"""docs/auth.md stays honest: its permission table is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from minibase.domain.roles import PERMISSIONS, Action, Role

DOC = Path(__file__).resolve().parents[1] / "docs" / "auth.md"


def test_permission_table_matches_the_code() -> None:
    documented: dict[Action, set[Role]] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].startswith("`"):
            continue
        allowed = {
            role
            for role, cell in zip((Role.ADMIN, Role.EDITOR, Role.VIEWER), cells[1:4], strict=True)
            if cell == "✓"
        }
        for name in re.findall(r"`([a-z_.]+)`", cells[0]):
            documented[Action(name)] = allowed
    assert set(documented) == set(Action), "every action is in docs/auth.md"
    for action, roles in documented.items():
        assert roles == {r for r in Role if action in PERMISSIONS[r]}, action
