"""Sandbox OIDC identity provider: real discovery, JWKS, code flow with PKCE, for test personas.

It stands in for the eID service in development and tests, so the portal runs the same
login code against it as against a production provider. Authorization codes live in the
memory of the process that built the router: a sandbox runs as one process, and a restart
merely cancels logins that are in flight. Signing keys are persisted, so issued tokens
survive a restart.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import ImmutableMultiDict

from sandbox.idp_tokens import TOKEN_LIFETIME_S, SigningKeyring, TokenMinter, pkce_matches
from sandbox.personas import PERSONAS, Persona, persona_by_id

ACCESS_TOKEN_AUDIENCE = "knopfdruck"
PORTAL_CLIENT_ID = "knopfdruck-portal"
"""The one client the sandbox knows unless more are registered (issue 14, item 10)."""
PERSONA_GRANT_TYPE = "urn:knopfdruck:sandbox:persona"
CODE_LIFETIME_S = 60.0
CLAIMS_SUPPORTED = (
    *("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "nonce", "auth_time", "azp", "client_id"),
    *("name", "given_name", "family_name", "trust_level", "idnr", "birthdate"),
    *("department", "roles"),
)
_MAX_PARAM_LENGTH = 2048
# RFC 7636 § 4.1: verifier of 43–128 unreserved characters; S256 challenges are 43 characters.
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class AuthorizationRequest:
    """The validated parameters of one login attempt, carried from GET to POST /authorize."""

    client_id: str
    redirect_uri: str
    state: str
    nonce: str
    code_challenge: str
    scope: str

    def hidden_fields(self) -> list[tuple[str, str]]:
        return [
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("state", self.state),
            ("nonce", self.nonce),
            ("code_challenge", self.code_challenge),
            ("code_challenge_method", "S256"),
            ("scope", self.scope),
        ]


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code stands for until it is redeemed or expires."""

    persona: Persona
    request: AuthorizationRequest
    expires_at: float


class AuthorizationCodes:
    """One-time codes in process memory (acceptable for a single-process sandbox only)."""

    def __init__(
        self, lifetime_s: float = CODE_LIFETIME_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._grants: dict[str, CodeGrant] = {}
        self._lock = threading.Lock()

    def issue(self, persona: Persona, request: AuthorizationRequest) -> str:
        code = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._grants = {c: g for c, g in self._grants.items() if g.expires_at > now}
            self._grants[code] = CodeGrant(persona, request, now + self._lifetime_s)
        return code

    def redeem(self, code: str) -> CodeGrant | None:
        """Remove the code whatever happens next, so a failed attempt cannot be retried."""
        with self._lock:
            grant = self._grants.pop(code, None)
        if grant is None or grant.expires_at <= self._clock():
            return None
        return grant


class _AuthorizeError(Exception):
    """A bad /authorize request; redirectable once client_id and redirect_uri are trusted."""

    def __init__(
        self,
        description: str,
        *,
        error: str = "invalid_request",
        redirect_uri: str = "",
        state: str = "",
    ) -> None:
        super().__init__(description)
        self.description = description
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state


class _TokenError(Exception):
    """An RFC 6749 § 5.2 error response of the token endpoint."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port or default_port)


def is_same_origin(url: str, issuer: str) -> bool:
    """The sandbox serves only the portal next to it, so redirects stay on the issuer's origin."""
    if not url or any(ch in url for ch in "\\\r\n\t ") or len(url) > _MAX_PARAM_LENGTH:
        return False
    try:
        parts = urlsplit(url)
        target = _origin(parts)
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or parts.fragment:
        return False
    return bool(target[1]) and target == _origin(urlsplit(issuer))


def _with_query(url: str, params: Mapping[str, str]) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    if url.endswith(("?", "&")):
        return url + query
    return f"{url}{'&' if urlsplit(url).query else '?'}{query}"


def _single_values(params: ImmutableMultiDict[str, Any]) -> dict[str, str]:
    """RFC 6749 § 3.1: a parameter must not appear twice; uploads are not parameters at all."""
    values: dict[str, str] = {}
    for name, value in params.multi_items():
        if name in values or not isinstance(value, str):
            raise ValueError(f"parameter {name} is repeated or not text")
        if len(value) > _MAX_PARAM_LENGTH:
            raise ValueError(f"parameter {name} is too long")
        values[name] = value
    return values


def _parse_authorize(
    params: ImmutableMultiDict[str, Any], issuer: str, registered: frozenset[str]
) -> AuthorizationRequest:
    try:
        values = _single_values(params)
    except ValueError as exc:
        raise _AuthorizeError(str(exc)) from exc
    client_id = values.get("client_id", "")
    redirect_uri = values.get("redirect_uri", "")
    if not client_id:
        raise _AuthorizeError("client_id is missing")
    if client_id not in registered:
        raise _AuthorizeError("client_id is not a registered client")
    if not is_same_origin(redirect_uri, issuer):
        raise _AuthorizeError("redirect_uri is missing or not on this server's origin")
    state = values.get("state", "")

    def fail(description: str, error: str = "invalid_request") -> _AuthorizeError:
        return _AuthorizeError(description, error=error, redirect_uri=redirect_uri, state=state)

    if values.get("response_type") != "code":
        raise fail("only response_type=code is supported", "unsupported_response_type")
    if not state:
        raise fail("state is required")
    nonce = values.get("nonce", "")
    if not nonce:
        raise fail("nonce is required")
    if values.get("code_challenge_method") != "S256":
        raise fail("PKCE with code_challenge_method=S256 is required")
    code_challenge = values.get("code_challenge", "")
    if not _CODE_CHALLENGE.fullmatch(code_challenge):
        raise fail("code_challenge must be a base64url SHA-256 digest")
    return AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        state=state,
        nonce=nonce,
        code_challenge=code_challenge,
        scope=values.get("scope", "openid"),
    )


def _persona_groups() -> list[dict[str, Any]]:
    return [
        {
            "legend": "Bürgerinnen und Bürger",
            "legend_en": "citizens",
            "personas": [p for p in PERSONAS if not p.is_clerk],
        },
        {
            "legend": "Sachbearbeitung",
            "legend_en": "clerks",
            "personas": [p for p in PERSONAS if p.is_clerk],
        },
    ]


def build_idp_router(
    issuer: str,
    key_dir: Path,
    *,
    access_token_audience: str = ACCESS_TOKEN_AUDIENCE,
    clients: Iterable[str] = (PORTAL_CLIENT_ID,),
) -> APIRouter:
    """Build the IdP's routes; mount them so that `issuer` is their public URL. Only the
    registered `clients` get codes or tokens (issue 14, item 10)."""
    registered = frozenset(c for c in clients if c)
    issuer = issuer.rstrip("/")
    issuer_parts = urlsplit(issuer)
    if issuer_parts.scheme not in ("http", "https") or not issuer_parts.hostname:
        raise ValueError(f"issuer must be an absolute http(s) URL, not {issuer!r}")
    keyring = SigningKeyring(key_dir)
    codes = AuthorizationCodes()
    minter = TokenMinter(issuer, keyring, access_token_audience)
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    authorize_path = f"{issuer_parts.path}/authorize"
    router = APIRouter(tags=["sandbox identity provider"])

    def page(status_code: int, title: str, **context: Any) -> HTMLResponse:
        context.setdefault("groups", [])
        context.setdefault("message", "")
        context.setdefault("message_en", "")
        html = templates.get_template("idp_login.html").render(title=title, **context)
        return HTMLResponse(html, status_code=status_code, headers=_NO_STORE)

    def authorize_error(exc: _AuthorizeError) -> Response:
        if exc.redirect_uri:
            target = _with_query(
                exc.redirect_uri,
                {"error": exc.error, "error_description": exc.description, "state": exc.state},
            )
            return RedirectResponse(target, status_code=303, headers=_NO_STORE)
        return page(
            400,
            "Anmeldung nicht möglich",
            message="Die Anmeldeanfrage ist ungültig.",
            message_en=f"Invalid login request: {exc.description}.",
        )

    @router.get("/.well-known/openid-configuration", name="idp_discovery")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "end_session_endpoint": f"{issuer}/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", PERSONA_GRANT_TYPE],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile"],
            "claims_supported": list(CLAIMS_SUPPORTED),
        }

    @router.get("/jwks", name="idp_jwks")
    async def jwks() -> dict[str, list[dict[str, str]]]:
        return keyring.jwks()

    @router.get("/authorize", name="idp_authorize", response_class=HTMLResponse)
    async def authorize_form(request: Request) -> Response:
        try:
            auth_request = _parse_authorize(request.query_params, issuer, registered)
        except _AuthorizeError as exc:
            return authorize_error(exc)
        return page(
            200,
            "Anmelden mit einer Testperson",
            groups=_persona_groups(),
            hidden=auth_request.hidden_fields(),
            action=authorize_path,
            client_id=auth_request.client_id,
        )

    @router.post("/authorize", name="idp_authorize_submit")
    async def authorize_submit(request: Request) -> Response:
        form = await request.form()
        fields = ImmutableMultiDict(
            [(k, v) for k, v in form.multi_items() if k not in ("persona", "action")]
        )
        try:
            auth_request = _parse_authorize(fields, issuer, registered)
        except _AuthorizeError as exc:
            return authorize_error(exc)
        if form.get("action") == "cancel":
            cancelled = _AuthorizeError(
                "the user cancelled the login",
                error="access_denied",
                redirect_uri=auth_request.redirect_uri,
                state=auth_request.state,
            )
            return authorize_error(cancelled)
        persona_id = form.get("persona")
        persona = persona_by_id(persona_id) if isinstance(persona_id, str) else None
        if persona is None:
            return page(
                400,
                "Anmeldung nicht möglich",
                message="Bitte wählen Sie eine der angebotenen Testpersonen.",
                message_en="Please choose one of the listed personas.",
            )
        code = codes.issue(persona, auth_request)
        target = _with_query(auth_request.redirect_uri, {"code": code, "state": auth_request.state})
        return RedirectResponse(target, status_code=303, headers=_NO_STORE)

    def exchange_code(values: Mapping[str, str]) -> dict[str, Any]:
        for name in ("code", "redirect_uri", "client_id", "code_verifier"):
            if not values.get(name):
                raise _TokenError("invalid_request", f"{name} is required")
        if not _CODE_VERIFIER.fullmatch(values["code_verifier"]):
            raise _TokenError("invalid_request", "code_verifier is malformed")
        grant = codes.redeem(values["code"])
        if grant is None:
            raise _TokenError("invalid_grant", "authorization code is invalid, used or expired")
        if values["client_id"] != grant.request.client_id:
            raise _TokenError("invalid_grant", "code was issued to another client")
        if values["redirect_uri"] != grant.request.redirect_uri:
            raise _TokenError("invalid_grant", "redirect_uri does not match")
        if not pkce_matches(values["code_verifier"], grant.request.code_challenge):
            raise _TokenError("invalid_grant", "code_verifier does not match code_challenge")
        return {
            "access_token": minter.access_token(grant.persona, grant.request.client_id),
            "id_token": minter.id_token(
                grant.persona, grant.request.client_id, grant.request.nonce
            ),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
        }

    def persona_token(values: Mapping[str, str]) -> dict[str, Any]:
        persona_id = values.get("persona", "")
        if not persona_id:
            raise _TokenError("invalid_request", "grant_type or persona is required")
        persona = persona_by_id(persona_id)
        if persona is None:
            raise _TokenError("invalid_request", "unknown persona")
        return {
            "access_token": minter.access_token(persona, values["client_id"]),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
        }

    @router.post("/token", name="idp_token")
    async def token(request: Request) -> JSONResponse:
        try:
            try:
                values = _single_values(await request.form())
            except ValueError as exc:
                raise _TokenError("invalid_request", str(exc)) from exc
            # The persona shortcut (README's curl) speaks for the portal unless it names a client.
            values.setdefault("client_id", PORTAL_CLIENT_ID)
            if values["client_id"] not in registered:
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "unknown client"},
                    status_code=401,
                    headers={**_NO_STORE, "WWW-Authenticate": 'Basic realm="sandbox"'},
                )
            grant_type = values.get("grant_type", "")
            if grant_type == "authorization_code":
                body = exchange_code(values)
            elif grant_type in ("", PERSONA_GRANT_TYPE):
                body = persona_token(values)
            else:
                raise _TokenError("unsupported_grant_type", "grant_type is not supported")
        except _TokenError as exc:
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description},
                status_code=400,
                headers=_NO_STORE,
            )
        return JSONResponse(body, headers=_NO_STORE)

    @router.get("/logout", name="idp_logout")
    async def logout(request: Request) -> Response:
        # The sandbox keeps no login session, so ending it only means sending the user back.
        target = request.query_params.get("post_logout_redirect_uri", "")
        if is_same_origin(target, issuer):
            state = request.query_params.get("state", "")
            return RedirectResponse(_with_query(target, {"state": state}), status_code=303)
        return page(
            200,
            "Abgemeldet",
            message="Sie sind abgemeldet. Sie können dieses Fenster schließen.",
            message_en="You are logged out. You may close this window.",
        )

    return router
