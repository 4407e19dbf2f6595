"""Shapes of the activity API: an import and its row-by-row report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class RowErrorRead(BaseModel):
    """One reason a row (or the header, line 1) was refused."""

    line: int
    column: str | None
    code: str
    message: str


class FailureRead(BaseModel):
    """Why the file as a whole could not be read."""

    code: str
    message: str
    line: int | None


class ImportRead(BaseModel):
    """An import: what was read and what became of the rows."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int | None
    file_name: str
    kind: str | None
    encoding: str | None
    size_bytes: int
    sha256: str
    mode: str
    status: str
    rows_read: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_quarantined: int
    errors_total: int
    failure: FailureRead | None
    report: list[RowErrorRead]
    started_at: datetime
    finished_at: datetime


class QuarantinedRead(BaseModel):
    """A row set aside by an import, as read, with its errors."""

    model_config = ConfigDict(from_attributes=True)

    line: int
    values: dict[str, Any]
    errors: list[dict[str, Any]]
