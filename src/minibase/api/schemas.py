"""Request bodies shared by several routers (camelCase on the wire)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$"


class Body(BaseModel):
    """Base of every request body: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=False)


class Email(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)


class Page(BaseModel):
    """``?limit=&cursor=`` of every list."""

    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=500)
