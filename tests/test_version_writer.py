"""The flow row's columns are named once, by FlowState, for both ways of writing."""

from __future__ import annotations

from dataclasses import fields

from minibase.store import version_writer
from minibase.store.tables import flows
from minibase.store.version_writer import EVENT_COLUMNS, VERSION_COLUMNS, WRITTEN, FlowState

NOT_SET_BY_A_VERSION = {
    "organization_id",
    "id",
    "created_by",
    "created_at",
    "deleted_at",
    "history_bytes",  # grows by the versions' payloads
    "collab_version",  # set when the live document has the versions
}


def test_every_flow_column_is_written_by_a_version_or_named_as_not() -> None:
    # A column added to flows fails here until it is a field of FlowState (then both
    # statements write it) or named above.
    stated = {f.name for f in fields(FlowState)} | NOT_SET_BY_A_VERSION
    assert {c.name for c in flows.c} == stated
    assert set(WRITTEN).isdisjoint(NOT_SET_BY_A_VERSION)


def test_both_statements_come_from_the_column_lists() -> None:
    update = str(version_writer._SAVE.statement)
    sql = version_writer._FLUSH_POSTGRES.sql
    for name in WRITTEN:
        assert f"{name}=" in update.replace(" ", "")
        assert f"{name} = $" in sql
    for name in (*VERSION_COLUMNS, *EVENT_COLUMNS):
        assert name in sql
    names = version_writer._FLUSH_POSTGRES.names
    assert len(names) == len(set(names))
    # $1 is the org; every name has its own placeholder, each used.
    for position in range(2, len(names) + 2):
        assert f"${position}" in sql
    assert f"${len(names) + 2}" not in sql
