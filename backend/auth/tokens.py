"""Verify OIDC ID tokens and API access tokens against the configured identity provider."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from jose import jwk, jws

from backend.errors import ServiceUnavailable, Unauthorized
from backend.tenants.models import DEPARTMENT_SEPARATOR

TRUST_LEVELS: tuple[str, ...] = ("niedrig", "substanziell", "hoch")
"""eID Vertrauensniveaus in ascending order (eIDAS low / substantial / high)."""

# Only asymmetric signatures: with a shared secret anybody holding the JWKS could mint tokens.
_KEY_TYPE_BY_ALG: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
}
_CURVE_BY_ALG: dict[str, str] = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
"""RFC 9068 § 2.1 header `typ` of JWT access tokens."""
JWKS_REFETCH_INTERVAL_S = 30.0
"""An unknown kid causes at most one JWKS download per interval: bogus kids cannot flood the IdP."""
JWKS_MAX_AGE_S = 3600.0
"""Keys the IdP has withdrawn stop being accepted after at most this long."""


@dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for; the only thing the rest of the backend sees of a login."""

    sub: str
    name: str
    trust_level: str
    idnr: str | None = None
    birthdate: str | None = None
    department: str | None = None
    roles: tuple[str, ...] = ()

    @property
    def is_clerk(self) -> bool:
        """Clerks belong to a department; citizens never do."""
        return self.department is not None

    def has_trust_level(self, required: str) -> bool:
        """Lets a service demand a minimum Vertrauensniveau without knowing the ordering."""
        if required not in TRUST_LEVELS:
            raise ValueError(f"unknown trust level {required!r}")
        return TRUST_LEVELS.index(self.trust_level) >= TRUST_LEVELS.index(required)


class TokenVerifier:
    """Checks signature and claims of a JWT from one issuer, with discovery and JWKS cached."""

    def __init__(
        self,
        issuer: str,
        audience: str | Iterable[str],
        client: httpx.AsyncClient,
        *,
        algorithms: Sequence[str] = ("RS256", "ES256"),
        leeway_s: int = 30,
        clock: Callable[[], float] = time.time,
        api_clients: Iterable[str] | None = None,
    ) -> None:
        refused = [alg for alg in algorithms if alg not in _KEY_TYPE_BY_ALG]
        if refused:
            raise ValueError(f"only asymmetric signature algorithms are allowed, not {refused}")
        if not algorithms:
            raise ValueError("at least one signature algorithm is required")
        self._issuer = issuer
        self._audiences = frozenset([audience] if isinstance(audience, str) else audience)
        if not self._audiences:
            raise ValueError("at least one audience is required")
        self._client = client
        # None: any authorised party (only for verifiers built outside the platform's context).
        self._api_clients = None if api_clients is None else frozenset(api_clients)
        self._algorithms = frozenset(algorithms)
        self._leeway_s = leeway_s
        self._clock = clock
        self._discovery: dict[str, Any] | None = None
        self._keys: dict[str, dict[str, Any]] = {}
        self._jwks_fetched_at: float | None = None
        self._jwks_attempted_at = float("-inf")
        self._fetch_lock = asyncio.Lock()

    async def verify(
        self, token: str, *, audience: str | None = None, nonce: str | None = None
    ) -> Identity:
        """The identity a token speaks for; Unauthorized if not (ServiceUnavailable: IdP down)."""
        header = _unverified_header(token)
        alg = header.get("alg")
        # The allow-list is checked before any key is touched (no "none", no HS* confusion).
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise _refused("Token algorithm not allowed")
        if "crit" in header:
            raise _refused("Token uses unsupported extensions")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refused("Token has no key id")
        # Issue 14, item 10: the kind of token is checked, not inferred from its audience alone.
        # An API call (no audience given) needs an RFC 9068 access token; a login needs an ID
        # token, which never says it is an access token.
        typ = header.get("typ")
        is_access = isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES
        if audience is None and not is_access:
            raise _refused("Not an access token")
        if audience is not None and is_access:
            raise _refused("An access token is no ID token")
        key = await self._key_for(kid)
        claims = _verified_claims(token, key, alg)
        self._check_claims(claims, audience=audience, nonce=nonce)
        self._check_party(claims, audience=audience)
        return _identity_from(claims)

    def _check_party(self, claims: Mapping[str, Any], *, audience: str | None) -> None:
        """The client the token was issued to must be one we registered (OIDC azp, RFC 9068)."""
        party = claims.get("client_id", claims.get("azp"))
        if audience is not None:
            # ID token: an azp, when present, names the client that asked for it (OIDC § 2).
            if party is not None and party != audience:
                raise _refused("Token issued to another client")
            return
        if self._api_clients is not None and (
            not isinstance(party, str) or party not in self._api_clients
        ):
            raise _refused("Token issued to an unknown client")

    async def _key_for(self, kid: str) -> dict[str, Any]:
        """The JWK named by kid, refetching the JWKS once (rate-limited) for a rotated key."""
        async with self._fetch_lock:
            now = self._clock()
            stale = self._jwks_fetched_at is None or now - self._jwks_fetched_at >= JWKS_MAX_AGE_S
            # Rate-limited by the last attempt, so a down IdP is not hammered by bogus kids.
            rotated = kid not in self._keys and now - self._jwks_attempted_at >= (
                JWKS_REFETCH_INTERVAL_S
            )
            if stale or rotated:
                self._jwks_attempted_at = now
                try:
                    await self._fetch_jwks()
                except ServiceUnavailable:
                    # A stale but known key keeps logins working while the IdP is briefly down.
                    if kid not in self._keys:
                        raise
            key = self._keys.get(kid)
        if key is None:
            raise _refused("Token signed with an unknown key")
        return key

    async def discovery(self) -> dict[str, Any]:
        """The IdP's endpoints (authorize, token, logout) for the portal's login flow."""
        async with self._fetch_lock:
            return dict(await self._discovery_locked())

    async def _discovery_locked(self) -> dict[str, Any]:
        if self._discovery is None:
            discovery_url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
            config = await self._get_json(discovery_url)
            # OIDC Discovery § 4.3: the document must name exactly the issuer we asked.
            if config.get("issuer") != self._issuer:
                raise _misconfigured()
            jwks_uri = config.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise _misconfigured()
            self._discovery = config
        return self._discovery

    async def _fetch_jwks(self) -> None:
        jwks_uri = (await self._discovery_locked())["jwks_uri"]
        document = await self._get_json(jwks_uri)
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise _misconfigured()
        usable: dict[str, dict[str, Any]] = {}
        for entry in keys:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            if isinstance(kid, str) and kid and kid not in usable:
                usable[kid] = entry
        self._keys = usable
        self._jwks_fetched_at = self._clock()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _unreachable() from exc
        if response.status_code != 200:
            raise _unreachable()
        try:
            document = response.json()
        except ValueError as exc:
            raise _misconfigured() from exc
        if not isinstance(document, dict):
            raise _misconfigured()
        return document

    def _check_claims(
        self, claims: Mapping[str, Any], *, audience: str | None, nonce: str | None
    ) -> None:
        if claims.get("iss") != self._issuer:
            raise _refused("Token from an unexpected issuer")
        accepted = {audience} if audience is not None else self._audiences
        token_audiences = claims.get("aud")
        if isinstance(token_audiences, str):
            token_audiences = [token_audiences]
        if not isinstance(token_audiences, list) or not accepted.intersection(
            a for a in token_audiences if isinstance(a, str)
        ):
            raise _refused("Token not meant for this service")
        now = self._clock()
        if now >= _required_time(claims, "exp") + self._leeway_s:
            raise Unauthorized(
                "Die Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an."
                " (Token has expired.)"
            )
        nbf = _optional_time(claims, "nbf")
        if nbf is not None and now + self._leeway_s < nbf:
            raise _refused("Token not yet valid")
        if now + self._leeway_s < _required_time(claims, "iat"):
            raise _refused("Token issued in the future")
        if nonce is not None:
            claimed = claims.get("nonce")
            if not isinstance(claimed, str) or not hmac.compare_digest(
                claimed.encode(), nonce.encode()
            ):
                raise _refused("Token nonce mismatch")


def _refused(reason: str) -> Unauthorized:
    """Citizens get one actionable message; the English reason helps whoever reads the logs."""
    return Unauthorized(f"Die Anmeldung ist ungültig. Bitte melden Sie sich erneut an. ({reason}.)")


def _unreachable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Der Anmeldedienst ist nicht erreichbar. Bitte später erneut versuchen."
        " (Identity provider unreachable.)"
    )


def _misconfigured() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Der Anmeldedienst ist gestört. Bitte später erneut versuchen."
        " (Identity provider misconfigured.)"
    )


def _unverified_header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or token.count(".") != 2:
        raise _refused("Malformed token")
    try:
        header = jws.get_unverified_header(token)
    except Exception as exc:  # any decoding failure of attacker-controlled input
        raise _refused("Malformed token") from exc
    if not isinstance(header, dict):
        raise _refused("Malformed token")
    return header


def _verified_claims(token: str, key: Mapping[str, Any], alg: str) -> dict[str, Any]:
    """Check the signature with exactly one JWK whose type fits alg, then parse the payload."""
    if key.get("kty") != _KEY_TYPE_BY_ALG[alg] or key.get("alg", alg) != alg:
        raise _refused("Token key does not match its algorithm")
    if alg in _CURVE_BY_ALG and key.get("crv") != _CURVE_BY_ALG[alg]:
        raise _refused("Token key does not match its algorithm")
    try:
        public_key = jwk.construct(dict(key), alg)
        payload = jws.verify(token, public_key, algorithms=[alg])
        claims = json.loads(payload)
    except Exception as exc:  # the library's error zoo is mapped to one refusal
        raise _refused("Token signature invalid") from exc
    if not isinstance(claims, dict):
        raise _refused("Malformed token")
    return claims


def _optional_time(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refused("Token lacks valid time claims")
    return float(value)


def _required_time(claims: Mapping[str, Any], name: str) -> float:
    value = _optional_time(claims, name)
    if value is None:
        raise _refused("Token lacks valid time claims")
    return value


def _identity_from(claims: Mapping[str, Any]) -> Identity:
    sub = claims.get("sub")
    name = claims.get("name")
    trust_level = claims.get("trust_level")
    roles = claims.get("roles", [])
    if (
        not isinstance(sub, str)
        or not sub
        or not isinstance(name, str)
        or trust_level not in TRUST_LEVELS
        or not isinstance(roles, list)
        or not all(isinstance(role, str) for role in roles)
    ):
        raise _refused("Token lacks required claims")
    optional: dict[str, str | None] = {}
    for claim in ("idnr", "birthdate", "department", "tenant"):
        value = claims.get(claim)
        if value is not None and not isinstance(value, str):
            raise _refused("Token lacks required claims")
        optional[claim] = value
    department = optional["department"]
    tenant = optional["tenant"]
    if department is not None and (DEPARTMENT_SEPARATOR in department or tenant == ""):
        raise _refused("Token has a malformed department")
    if department is not None and tenant is not None:
        # A clerk of another tenant than the home one: the department key carries the tenant,
        # so every filter by department isolates tenants too (backend/tenants/models.py).
        department = f"{tenant}{DEPARTMENT_SEPARATOR}{department}"
    return Identity(
        sub=sub,
        name=name,
        trust_level=str(trust_level),
        idnr=optional["idnr"],
        birthdate=optional["birthdate"],
        department=department,
        roles=tuple(roles),
    )
