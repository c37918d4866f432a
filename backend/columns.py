"""Column types every domain's tables share: ids, UTC timestamps and encrypted JSON.

The bottom of the table layer: it imports no domain, so every `backend/<domain>/models.py` can
import it without a circle (issue 18). Which tables exist is listed in `backend/all_models.py`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlmodel import Field

from backend.crypto import SensitiveJSON

__all__ = ["SensitiveJSON", "aware", "new_id", "optional_time", "stamped", "utcnow"]


def new_id() -> str:
    """A random id, so ids in URLs cannot be walked."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Now in UTC: every stored time is UTC."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stamped(*, nullable: bool) -> Any:
    """A timestamp column that defaults to now; nullability as each table's migration made it."""
    return Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=nullable)
    )


def optional_time() -> Any:
    """A timestamp column that stays empty until the thing it records happens."""
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
