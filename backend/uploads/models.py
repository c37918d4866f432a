"""Tables of citizens' uploads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.columns import new_id, stamped


class Upload(SQLModel, table=True):
    """A document a citizen attached to a draft; kept in the database so web processes stay
    stateless and a file is deleted with its draft or retained with its case."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("application_id", "field_id", name="uq_uploads_field"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    application_id: str = Field(foreign_key="applications.id", index=True, max_length=32)
    citizen_sub: str = Field(index=True, max_length=128)
    field_id: str = Field(max_length=64)
    display_name: str = Field(max_length=120)
    """The citizen's file name, cleaned, for display only: never a path, never in a URL."""
    media_type: str = Field(max_length=64)
    """Recognised from the content, not taken from the browser or the file name."""
    size: int
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    case_id: str | None = Field(default=None, foreign_key="cases.id", index=True, max_length=32)
    created_at: datetime = stamped(nullable=False)
