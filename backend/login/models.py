"""Tables of portal login: sessions and the pending login attempts (PKCE verifier, nonce)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from backend.columns import stamped


class PortalSession(SQLModel, table=True):
    """A server-side browser session; the cookie holds only a random token whose hash is stored."""

    __tablename__ = "portal_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    sub: str = Field(index=True, max_length=128)
    identity: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    csrf_token: str = Field(max_length=64)
    created_at: datetime = stamped(nullable=False)
    last_seen: datetime = stamped(nullable=False)


class LoginAttempt(SQLModel, table=True):
    """State of an OIDC login in flight: PKCE verifier and nonce, bound to a browser cookie."""

    __tablename__ = "login_attempts"

    state: str = Field(primary_key=True, max_length=64)
    browser_binding: str = Field(max_length=64)
    code_verifier: str = Field(max_length=128)
    nonce: str = Field(max_length=64)
    return_to: str = Field(default="/", max_length=300)
    created_at: datetime = stamped(nullable=False)
