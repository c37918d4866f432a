"""Tables of the security work; imported by backend.all_models for migrations and checks."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class RateLimitHit(SQLModel, table=True):
    """Requests counted per key and fixed time window, shared by every web process.

    Web processes are stateless, so the counter lives in the database: two processes behind
    a load balancer count against one limit. The key is a SHA-256 of
    "<action>:<window length>:<kind>:<value>",
    so neither IP addresses nor account ids are stored readable.
    """

    __tablename__ = "rate_limit_hits"

    key: str = Field(primary_key=True, max_length=64)
    window_start: int = Field(primary_key=True)
    """Unix seconds at which the window began (a multiple of the window length)."""
    count: int = Field(default=0)
