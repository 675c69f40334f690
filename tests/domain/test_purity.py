"""The domain layer stays pure: no web framework, no database, no I/O libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import minibase.domain

FORBIDDEN = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "redis",
    "httpx",
    "uvicorn",
    "pycrdt",
}


def test_domain_imports_no_framework() -> None:
    root = Path(minibase.domain.__file__).parent
    offenders = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
