"""Imports go one way: the package graph of ``src/minibase`` and where SQL may live.

The allowed edges are written down once, here, and explained in docs/architecture.md
(which quotes them; a test below checks the two agree). A package is a directory under
``src/minibase`` or one of its top-level modules; the kernel modules (errors, ids, config,
logs, log_redaction, the package root) may be imported by anyone and import nothing of
Minibase but each other.

A known exception is an import that breaks the rules today and that a named piece of
work removes; its test fails once the import is gone, so the list cannot go stale.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import minibase

ROOT = Path(minibase.__file__).parent
DOCS = ROOT.parents[1] / "docs" / "architecture.md"

KERNEL = frozenset({"minibase", "errors", "ids", "config", "logs", "log_redaction"})
"""Imported by anyone; they import nothing of Minibase but each other."""

ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "engine": frozenset(),
    "web": frozenset(),
    "crypto": frozenset(),
    "client": frozenset(),
    "sockets": frozenset(),
    "store": frozenset({"domain", "crypto"}),
    "auth": frozenset({"store", "domain"}),
    "services": frozenset({"auth", "store", "crypto", "domain", "engine"}),
    "context": frozenset({"services", "store", "domain"}),
    "http": frozenset({"context", "services", "auth", "domain"}),
    "realtime": frozenset({"services", "auth", "store", "domain", "sockets"}),
    "collab": frozenset({"services", "store", "domain", "sockets"}),
    "api": frozenset({"http", "realtime", "context", "services", "auth", "domain", "web"}),
    "app": frozenset(
        {"api", "http", "collab", "realtime", "context", "services", "store", "domain", "sockets"}
    ),
    "cli": frozenset({"app", "services", "store", "domain"}),
    "__main__": frozenset({"cli"}),
}
"""Package → the packages it may import (besides the kernel and itself).

realtime and collab hold the :class:`~minibase.store.unit_of_work.Store` handle to open
units of work for the services they call when an event arrives; api and http get it
from the app context and never import store.
"""

SQL_PACKAGES = frozenset({"store", "services", "auth"})
"""Only these build statements (import SQLAlchemy, bar its errors, or the tables)."""


@dataclass(frozen=True)
class Known:
    module: str
    imports: str
    """A package name (``store``) or, for the SQL rule, ``sql``."""
    why: str
    fixed_by: str


KNOWN_EXCEPTIONS: tuple[Known, ...] = ()


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module != "minibase":  # ``from minibase.store import tables``
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_sql(imported: str) -> bool:
    """SQLAlchemy or the table definitions; catching SQLAlchemy's errors is not SQL."""
    if imported.startswith("sqlalchemy.exc"):
        return False
    return imported.split(".")[0] == "sqlalchemy" or imported.startswith("minibase.store.tables")


def scan() -> tuple[dict[tuple[str, str], set[str]], set[tuple[str, str]]]:
    """Package edges with the modules that make them, and (module, "sql") uses."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    sql: set[tuple[str, str]] = set()
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # alembic scripts: schema history, not part of the running graph
        module = module_name(path)
        source = package_of(module)
        for imported in imports_of(path):
            if is_sql(imported) and source not in SQL_PACKAGES:
                sql.add((module, "sql"))
            if imported.split(".")[0] != "minibase":
                continue
            target = package_of(imported)
            if target != source:
                edges[(source, target)].add(module)
    return edges, sql


def known(module: str, imports: str) -> bool:
    return any(k.module == module and k.imports == imports for k in KNOWN_EXCEPTIONS)


def test_every_package_has_a_rule() -> None:
    packages = {package_of(module_name(p)) for p in ROOT.rglob("*.py")}
    assert packages - KERNEL - ALLOWED.keys() == set()


def test_imports_follow_the_allowed_edges() -> None:
    edges, _ = scan()
    wrong = sorted(
        f"{module} imports {target}"
        for (source, target), modules in edges.items()
        if target not in KERNEL and target not in ALLOWED.get(source, frozenset())
        for module in modules
        if not known(module, target)
    )
    assert wrong == []


def test_the_kernel_imports_nothing_but_the_kernel() -> None:
    edges, _ = scan()
    assert sorted(f"{s} -> {t}" for s, t in edges if s in KERNEL and t not in KERNEL) == []


def test_sql_lives_in_store_and_services() -> None:
    _, sql = scan()
    assert sorted(m for m, kind in sql if not known(m, kind)) == []


def test_no_cycle_between_packages() -> None:
    edges, _ = scan()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    assert find_cycle(graph) is None
    assert find_cycle({k: set(v) for k, v in ALLOWED.items()}) is None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_known_exceptions_still_exist() -> None:
    """Remove an entry of KNOWN_EXCEPTIONS (and docs/architecture.md's) once it is fixed."""
    edges, sql = scan()
    present = {(m, target) for (_, target), modules in edges.items() for m in modules} | sql
    assert [k for k in KNOWN_EXCEPTIONS if (k.module, k.imports) not in present] == []


def test_docs_state_the_same_edges() -> None:
    """docs/architecture.md lists each package's allowed imports as ``- `pkg` imports: ...``."""
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- allowed-edges -->")[1]
    written = {
        m.group(1): frozenset(re.findall(r"`(\w+)`", m.group(2)))
        for m in re.finditer(r"^- `(\w+)` imports:(.*)$", block, re.MULTILINE)
    }
    assert written == ALLOWED
    for k in KNOWN_EXCEPTIONS:
        assert f"`{k.module}`" in text, f"{k.module} is not named in docs/architecture.md"
