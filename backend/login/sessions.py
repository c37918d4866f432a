"""Portal login: OIDC authorization code flow with PKCE and nonce, and server-side sessions."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlencode, urlsplit

from sqlmodel import Session, delete

from backend.auth.tokens import Identity
from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.errors import ServiceUnavailable, Unauthorized
from backend.login.models import LoginAttempt, PortalSession
from backend.ratelimit import check_rate

LOGIN_TTL = timedelta(minutes=10)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_LOGIN_MACHINERY = ("/auth", "/login", "/logout", "/logged-out")
"""Paths that are steps of logging in or out, never a page to come back to (issue 14, item 12)."""


def _is_under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def safe_return_path(value: str | None) -> str:
    """Only local paths, so a crafted link cannot send the citizen elsewhere after login; never
    the login callback, which without its one-time code only says "login cancelled"."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    # Compare the path as the router will see it: percent-decoded, case-folded.
    path = unquote(urlsplit(value).path).lower()
    if path.startswith("//") or _is_under(path, ("/auth",)):
        return "/"
    return value[:300]


def safe_login_return(value: str | None) -> str:
    """Where a finished login may return: a local page that is not itself a login step, so a
    login never lands on the callback or starts the next login (issue 14, item 12)."""
    target = safe_return_path(value)
    if _is_under(unquote(urlsplit(target).path).lower(), _LOGIN_MACHINERY):
        return "/"
    return target


@dataclass(frozen=True)
class LoginStart:
    redirect_url: str
    browser_binding: str


def redirect_uri(ctx: AppContext) -> str:
    return f"{ctx.settings.base_url}/auth/callback"


def begin_login(ctx: AppContext, return_to: str | None) -> LoginStart:
    """Remember verifier and nonce server-side; the browser gets only a binding cookie."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    state, nonce, binding = (
        secrets.token_urlsafe(24),
        secrets.token_urlsafe(24),
        secrets.token_urlsafe(24),
    )
    with unit_of_work(ctx.engine) as session:
        session.exec(delete(LoginAttempt).where(LoginAttempt.created_at < utcnow() - LOGIN_TTL))  # type: ignore[arg-type]
        session.add(
            LoginAttempt(
                state=state,
                browser_binding=_hash(binding),
                code_verifier=verifier,
                nonce=nonce,
                return_to=safe_login_return(return_to),
            )
        )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": ctx.settings.oidc_client_id,
            "redirect_uri": redirect_uri(ctx),
            "scope": "openid profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
    )
    return LoginStart(f"{ctx.settings.oidc_issuer}/authorize?{query}", binding)


@dataclass(frozen=True)
class NewSession:
    token: str
    return_to: str


async def complete_login(
    ctx: AppContext, *, code: str, state: str, browser_binding: str | None
) -> NewSession:
    """Exchange the code, verify the ID token with its nonce, and open a fresh session."""
    from starlette.concurrency import run_in_threadpool

    def take_attempt() -> LoginAttempt:
        with unit_of_work(ctx.engine) as session:
            attempt = session.get(LoginAttempt, state)
            if attempt is None:
                raise Unauthorized("Die Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an.")
            session.delete(attempt)  # one-time use
            return attempt

    attempt = await run_in_threadpool(take_attempt)
    if browser_binding is None or not secrets.compare_digest(
        _hash(browser_binding), attempt.browser_binding
    ):
        raise Unauthorized(
            "Die Anmeldung gehört nicht zu diesem Browser. Bitte melden Sie sich erneut an."
        )
    if aware(attempt.created_at) < utcnow() - LOGIN_TTL:
        raise Unauthorized("Die Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an.")
    discovery = await ctx.verifier.discovery()
    try:
        response = await ctx.http.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri(ctx),
                "client_id": ctx.settings.oidc_client_id,
                "code_verifier": attempt.code_verifier,
            },
        )
    except Exception as exc:  # network errors of any kind mean the IdP is unavailable
        raise ServiceUnavailable(
            "Der Anmeldedienst ist nicht erreichbar. Bitte später erneut versuchen."
        ) from exc
    if response.status_code != 200:
        raise Unauthorized("Die Anmeldung wurde abgelehnt. Bitte melden Sie sich erneut an.")
    id_token = response.json().get("id_token")
    if not isinstance(id_token, str):
        raise Unauthorized("Die Anmeldung wurde abgelehnt. Bitte melden Sie sich erneut an.")
    identity = await ctx.verifier.verify(
        id_token, audience=ctx.settings.oidc_client_id, nonce=attempt.nonce
    )
    # Per account: the IP limit (knopfdruck.security.LoginRateLimit) cannot see who logs in.
    await run_in_threadpool(
        check_rate, ctx.engine, ctx.settings, "login", account=identity.sub, ip=None
    )
    token = secrets.token_urlsafe(32)

    def store() -> None:
        with unit_of_work(ctx.engine) as session:
            session.add(
                PortalSession(
                    token_hash=_hash(token),
                    sub=identity.sub,
                    identity=identity_to_json(identity),
                    csrf_token=secrets.token_urlsafe(24),
                )
            )

    await run_in_threadpool(store)
    return NewSession(token, attempt.return_to)


def identity_to_json(identity: Identity) -> dict[str, object]:
    return {
        "sub": identity.sub,
        "name": identity.name,
        "trust_level": identity.trust_level,
        "idnr": identity.idnr,
        "birthdate": identity.birthdate,
        "department": identity.department,
        "roles": list(identity.roles),
    }


def identity_from_json(data: dict[str, object]) -> Identity:
    roles = data.get("roles") or []
    return Identity(
        sub=str(data["sub"]),
        name=str(data.get("name") or ""),
        trust_level=str(data["trust_level"]),
        idnr=str(data["idnr"]) if data.get("idnr") else None,
        birthdate=str(data["birthdate"]) if data.get("birthdate") else None,
        department=str(data["department"]) if data.get("department") else None,
        roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
    )


@dataclass(frozen=True)
class ActiveSession:
    identity: Identity
    csrf_token: str
    expires_at: datetime | None = None
    """When the session ends if nothing happens before: the page shows it and warns before."""


def load_session(
    ctx: AppContext, token: str | None, *, extend: bool = False
) -> ActiveSession | None:
    """The session behind a cookie; None when absent or idle too long (then it is removed).
    Every request counts as activity; `extend` restarts the idle time to the second (the
    "stay logged in" button), otherwise it is restarted at most once a minute."""
    if not token:
        return None
    idle = timedelta(minutes=ctx.settings.session_idle_minutes)
    with unit_of_work(ctx.engine) as session:
        row = session.get(PortalSession, _hash(token))
        if row is None:
            return None
        now = utcnow()
        if aware(row.last_seen) < now - idle:
            session.delete(row)
            return None
        if extend or aware(row.last_seen) < now - timedelta(minutes=1):
            row.last_seen = now
            session.add(row)
        return ActiveSession(
            identity_from_json(row.identity), row.csrf_token, aware(row.last_seen) + idle
        )


def end_session(ctx: AppContext, token: str | None) -> None:
    if not token:
        return
    with Session(ctx.engine) as session:
        row = session.get(PortalSession, _hash(token))
        if row is not None:
            session.delete(row)
            session.commit()
