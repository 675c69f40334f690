"""Request bodies shared by several routers (camelCase on the wire)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from minibase.domain.emails import EMAIL_PATTERN

MAX_INT32 = 2**31 - 1
"""Largest value of an ``Integer`` column on every database (versions, counts)."""
MAX_INT64 = 2**63 - 1
"""Largest value of a ``BigInteger`` column (times in ms, byte counts)."""

VersionNumber = Annotated[int, Path(ge=1, le=MAX_INT32)]
"""A flow version in a path: beyond the column's range is a 422, the same on every
database, like any other value that cannot be a version."""


class Body(BaseModel):
    """Base of every request body: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=False)


class Email(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)


class Page(BaseModel):
    """``?limit=&cursor=`` of every list."""

    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=500)
