"""Rate limits per account and per IP address, counted in the database.

Web processes are stateless and may run on many machines, so an in-memory counter would let a
client multiply its allowance by the number of processes. Each limited request instead adds
one to a row of `rate_limit_hits` keyed by a hash of (action, account or IP) and a fixed time
window, in one atomic INSERT … ON CONFLICT DO UPDATE … RETURNING that SQLite and PostgreSQL
both support. A fixed window lets a client send at most twice the limit across a window
boundary; that is accepted for simplicity (one row per key and window, no clock sync needed
beyond the database's writes being serialised).

Refused requests count too: a client that keeps hammering stays refused until it pauses.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from backend.db import unit_of_work
from backend.errors import KnopfdruckError
from backend.settings import Settings

ACTIONS = ("login", "start", "submit", "feedback")
"""What is limited: the OIDC login (start and callback), starting and submitting applications,
and the anonymous feedback form."""


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


class RateLimited(KnopfdruckError):
    """Too many requests of one kind from one account or address; says when to come back."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, math.ceil(retry_after_s / 60))
        super().__init__(
            f"Zu viele Anfragen in kurzer Zeit. Bitte versuchen Sie es in {minutes} Minuten "
            f"erneut. (Too many requests; try again in {minutes} minutes.)"
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Limit:
    """Allowed requests per window for one action; 0 turns a dimension off."""

    per_account: int
    per_ip: int
    window_s: int


def limit_for(settings: Settings, action: str) -> Limit:
    """The configured limit of one action (KNOPFDRUCK_RATE_LIMIT_*)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown rate-limited action {action!r}")
    return Limit(
        per_account=int(getattr(settings, f"rate_limit_{action}_per_account")),
        per_ip=int(getattr(settings, f"rate_limit_{action}_per_ip")),
        window_s=max(1, settings.rate_limit_window_s),
    )


def _key(action: str, window_s: int, kind: str, value: str) -> str:
    # Hashed: the table must not become a log of who came from which address. The window
    # length is part of the key, so windows of different lengths never share a counter.
    return hashlib.sha256(f"{action}:{window_s}:{kind}:{value}".encode()).hexdigest()


def _count(engine: Engine, key: str, window_start: int) -> int:
    """Add one to the key's counter in this window and return the new value, atomically."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    table = RateLimitHit.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(key=key, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"count": table.c.count + 1}
        )
        .returning(table.c.count)
    )
    with unit_of_work(engine) as session:
        count = int(session.execute(statement).scalar_one())
        if count == 1:
            # The first hit of a new window clears windows long past, so the table stays small.
            session.execute(delete(table).where(table.c.window_start < window_start - 2 * 86400))
    return count


def check_rate(
    engine: Engine,
    settings: Settings,
    action: str,
    *,
    account: str | None,
    ip: str | None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Count one request; RateLimited when the account or the address is over its limit."""
    limit = limit_for(settings, action)
    now = clock()
    window_start = int(now // limit.window_s) * limit.window_s
    retry_after = max(1, window_start + limit.window_s - int(now))
    counted = (("account", account, limit.per_account), ("ip", ip, limit.per_ip))
    # Every dimension is counted even when the first is already over, so each stays accurate.
    over = [
        _count(engine, _key(action, limit.window_s, kind, value), window_start) > allowed
        for kind, value, allowed in counted
        if value and allowed > 0
    ]
    if any(over):
        raise RateLimited(retry_after)
