"""Tables of the legal pages: feedback on a service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

from backend.columns import new_id, utcnow


class Feedback(SQLModel, table=True):
    """One message a visitor sent about accessibility, a service or the portal.

    Deliberately anonymous: no account, no IP address; only an address to answer to when the
    sender gives one (Art. 5 Abs. 1 lit. c GDPR, data minimisation).
    """

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_authority_created", "authority", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    topic: str = Field(max_length=16)
    """accessibility · service · portal"""
    service: str | None = Field(default=None, max_length=64)
    authority: str = Field(max_length=300)
    """Who must answer: the service's authority, or the operator for the portal as a whole."""
    page: str = Field(default="", max_length=300)
    rating: int | None = None
    """1 (very bad) to 5 (very good), service feedback only."""
    message: str = Field(sa_column=Column(Text, nullable=False))
    reply_to: str | None = Field(default=None, max_length=254)
    lang: str = Field(default="de", max_length=2)
    status: str = Field(default="new", max_length=16)
    """new · answered"""
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
