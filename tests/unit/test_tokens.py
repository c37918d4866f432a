"""TokenVerifier against a fake IdP served through httpx.MockTransport: every refusal on its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jws, jwt
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from backend.auth.tokens import JWKS_REFETCH_INTERVAL_S, Identity, TokenVerifier
from backend.errors import ServiceUnavailable, Unauthorized

pytestmark = pytest.mark.anyio

ISSUER = "https://idp.example.test/realms/sandbox"
AUDIENCE = "knopfdruck"
NOW = 1_750_000_000.0


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    exported: dict[str, Any] = jwcrypto_jwk.JWK.from_pyca(key.public_key()).export_public(
        as_dict=True
    )
    return {**exported, "kid": kid, "use": "sig"}


class FakeIdP:
    """Serves discovery and a replaceable JWKS; records what the verifier asked for."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {
            "keys": [_public_jwk(RSA_KEY, "rsa-1"), _public_jwk(EC_KEY, "ec-1")]
        }
        self.discovery_issuer = ISSUER
        self.down = False
        self.paths: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/realms/sandbox/.well-known/openid-configuration":
            return httpx.Response(
                200, json={"issuer": self.discovery_issuer, "jwks_uri": f"{ISSUER}/certs"}
            )
        if request.url.path == "/realms/sandbox/certs":
            return httpx.Response(200, json=self.jwks)
        return httpx.Response(404)

    @property
    def jwks_fetches(self) -> int:
        return self.paths.count("/realms/sandbox/certs")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> FakeIdP:
    return FakeIdP()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(idp: FakeIdP, clock: Clock) -> TokenVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(idp.handle))
    return TokenVerifier(ISSUER, AUDIENCE, client, clock=clock)


def claims(**changes: Any) -> dict[str, Any]:
    """Erika's claims, valid at NOW; a change to None removes the claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "c0a1f6e2-5b7d-4e55-9a2e-0f3c9d1e7a01",
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 3600,
        "jti": "6f1c",
        "name": "Erika Mustermann",
        "trust_level": "hoch",
        "idnr": "86095742719",
        "birthdate": "1964-08-12",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def sign(
    payload: dict[str, Any],
    *,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = RSA_KEY,
    alg: str = "RS256",
    kid: str | None = "rsa-1",
    typ: str | None = "at+jwt",
) -> str:
    """An access token (RFC 9068 `typ`) unless typ says otherwise."""
    headers: dict[str, Any] = {"kid": kid} if kid is not None else {}
    if typ is not None:
        headers["typ"] = typ
    token: str = jwt.encode(payload, _pem(key), algorithm=alg, headers=headers)
    return token


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _handmade(
    header: dict[str, Any], payload: dict[str, Any], sign_with: Callable[[bytes], bytes]
) -> str:
    signing_input = (
        f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
    )
    return f"{signing_input}.{_b64url(sign_with(signing_input.encode()))}"


async def refused(verifier: TokenVerifier, token: str, **kwargs: Any) -> str:
    """The English reason in parentheses: it tells which check refused the token."""
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token, **kwargs)
    message = caught.value.message
    assert message.startswith("Die Anmeldung ist"), "citizens need a German message"
    return message[message.rindex("(") + 1 : -2]


async def test_valid_token_gives_identity(verifier: TokenVerifier) -> None:
    identity = await verifier.verify(sign(claims()))
    assert identity == Identity(
        sub="c0a1f6e2-5b7d-4e55-9a2e-0f3c9d1e7a01",
        name="Erika Mustermann",
        trust_level="hoch",
        idnr="86095742719",
        birthdate="1964-08-12",
    )
    assert not identity.is_clerk


async def test_clerk_token_carries_department_and_roles(verifier: TokenVerifier) -> None:
    token = sign(
        claims(idnr=None, birthdate=None, department="buergeramt", roles=["clerk", "supervisor"])
    )
    identity = await verifier.verify(token)
    assert identity.is_clerk
    assert identity.department == "buergeramt"
    assert identity.roles == ("clerk", "supervisor")


async def test_es256_token_accepted(verifier: TokenVerifier) -> None:
    identity = await verifier.verify(sign(claims(), key=EC_KEY, alg="ES256", kid="ec-1"))
    assert identity.name == "Erika Mustermann"


async def test_token_signed_by_jwcrypto_is_accepted(verifier: TokenVerifier) -> None:
    signer = jwcrypto_jwk.JWK.from_pem(_pem(RSA_KEY).encode("ascii"))
    foreign = jwcrypto_jwt.JWT(
        header={"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}, claims=claims()
    )
    foreign.make_signed_token(signer)
    identity = await verifier.verify(foreign.serialize())
    assert identity.idnr == "86095742719"


async def test_wrong_issuer_refused(verifier: TokenVerifier) -> None:
    token = sign(claims(iss="https://idp.example.test/realms/other"))
    assert await refused(verifier, token) == "Token from an unexpected issuer"


async def test_wrong_audience_refused(verifier: TokenVerifier) -> None:
    assert await refused(verifier, sign(claims(aud="another-service"))) == (
        "Token not meant for this service"
    )


async def test_audience_list_containing_ours_accepted(verifier: TokenVerifier) -> None:
    identity = await verifier.verify(sign(claims(aud=["another-service", AUDIENCE])))
    assert identity.trust_level == "hoch"


async def test_audience_override_for_id_tokens(verifier: TokenVerifier) -> None:
    id_token = sign(claims(aud="knopfdruck-portal"), typ="JWT")
    assert (await verifier.verify(id_token, audience="knopfdruck-portal")).sub
    assert await refused(verifier, id_token) == "Not an access token"


async def test_expired_refused_beyond_leeway(verifier: TokenVerifier) -> None:
    expired = sign(claims(iat=int(NOW) - 3600, nbf=int(NOW) - 3600, exp=int(NOW) - 31))
    assert await refused(verifier, expired) == "Token has expired"
    within_leeway = sign(claims(iat=int(NOW) - 3600, nbf=int(NOW) - 3600, exp=int(NOW) - 29))
    assert (await verifier.verify(within_leeway)).name == "Erika Mustermann"


async def test_not_yet_valid_refused_beyond_leeway(verifier: TokenVerifier) -> None:
    assert await refused(verifier, sign(claims(nbf=int(NOW) + 31))) == "Token not yet valid"
    assert (await verifier.verify(sign(claims(nbf=int(NOW) + 29)))).name == "Erika Mustermann"


async def test_issued_in_the_future_refused(verifier: TokenVerifier) -> None:
    token = sign(claims(iat=int(NOW) + 31, nbf=None))
    assert await refused(verifier, token) == "Token issued in the future"


@pytest.mark.parametrize("missing", ["exp", "iat"])
async def test_missing_time_claim_refused(verifier: TokenVerifier, missing: str) -> None:
    assert await refused(verifier, sign(claims(**{missing: None}))) == (
        "Token lacks valid time claims"
    )


async def test_time_claim_of_wrong_type_refused(verifier: TokenVerifier) -> None:
    assert await refused(verifier, sign(claims(exp="tomorrow"))) == (
        "Token lacks valid time claims"
    )


async def test_signature_by_another_key_with_same_kid_refused(verifier: TokenVerifier) -> None:
    forged = sign(claims(), key=OTHER_RSA_KEY, kid="rsa-1")
    assert await refused(verifier, forged) == "Token signature invalid"


async def test_tampered_payload_refused(verifier: TokenVerifier) -> None:
    header, _, signature = sign(claims()).split(".")
    payload = _b64url(json.dumps(claims(trust_level="hoch", name="Mallory")).encode())
    assert await refused(verifier, f"{header}.{payload}.{signature}") == ("Token signature invalid")


async def test_unknown_kid_refused(verifier: TokenVerifier) -> None:
    token = sign(claims(), key=OTHER_RSA_KEY, kid="rsa-unknown")
    assert await refused(verifier, token) == "Token signed with an unknown key"


async def test_rotated_key_found_by_one_refetch(
    verifier: TokenVerifier, idp: FakeIdP, clock: Clock
) -> None:
    await verifier.verify(sign(claims()))
    idp.jwks["keys"].append(_public_jwk(OTHER_RSA_KEY, "rsa-2"))
    rotated = sign(claims(), key=OTHER_RSA_KEY, kid="rsa-2")
    # Within the rate limit the cached JWKS is authoritative.
    assert await refused(verifier, rotated) == "Token signed with an unknown key"
    assert idp.jwks_fetches == 1
    clock.now += JWKS_REFETCH_INTERVAL_S + 1
    assert (await verifier.verify(rotated)).name == "Erika Mustermann"
    assert idp.jwks_fetches == 2


async def test_unknown_kids_refetch_at_most_once_per_interval(
    verifier: TokenVerifier, idp: FakeIdP, clock: Clock
) -> None:
    await verifier.verify(sign(claims()))
    clock.now += JWKS_REFETCH_INTERVAL_S + 1
    for n in range(5):
        await refused(verifier, sign(claims(), kid=f"bogus-{n}"))
    assert idp.jwks_fetches == 2


async def test_discovery_and_jwks_are_cached(verifier: TokenVerifier, idp: FakeIdP) -> None:
    for _ in range(3):
        await verifier.verify(sign(claims()))
    assert idp.paths == [
        "/realms/sandbox/.well-known/openid-configuration",
        "/realms/sandbox/certs",
    ]


async def test_alg_none_refused(verifier: TokenVerifier) -> None:
    header = {"alg": "none", "kid": "rsa-1", "typ": "JWT"}
    unsigned = _handmade(header, claims(), lambda _: b"")
    assert await refused(verifier, unsigned) == "Token algorithm not allowed"


async def test_hs256_with_public_key_as_secret_refused(verifier: TokenVerifier) -> None:
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    confused = _handmade(
        header, claims(), lambda data: hmac.new(public_pem, data, hashlib.sha256).digest()
    )
    assert await refused(verifier, confused) == "Token algorithm not allowed"


async def test_alg_not_matching_key_type_refused(verifier: TokenVerifier) -> None:
    token = sign(claims(), key=EC_KEY, alg="ES256", kid="rsa-1")
    assert await refused(verifier, token) == "Token key does not match its algorithm"


async def test_missing_kid_refused(verifier: TokenVerifier) -> None:
    assert await refused(verifier, sign(claims(), kid=None)) == "Token has no key id"


async def test_crit_header_refused(verifier: TokenVerifier) -> None:
    token = jws.sign(
        json.dumps(claims()).encode(),
        _pem(RSA_KEY),
        headers={"kid": "rsa-1", "crit": ["exp"]},
        algorithm="RS256",
    )
    assert await refused(verifier, token) == "Token uses unsupported extensions"


async def test_nonce_checked_when_given(verifier: TokenVerifier) -> None:
    token = sign(claims(nonce="n-0S6_WzA2Mj"))
    assert (await verifier.verify(token, nonce="n-0S6_WzA2Mj")).name == "Erika Mustermann"
    assert await refused(verifier, token, nonce="another-nonce") == "Token nonce mismatch"
    assert await refused(verifier, sign(claims()), nonce="n-0S6_WzA2Mj") == ("Token nonce mismatch")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "a.b.c",
        "....",
        "eyJhbGciOiJSUzI1NiJ9.%%%.abc",
        "eyJhbGciOiJSUzI1NiJ9..",
        "ä.ö.ü",
    ],
)
async def test_garbage_refused(verifier: TokenVerifier, garbage: str) -> None:
    with pytest.raises(Unauthorized):
        await verifier.verify(garbage)


async def test_payload_that_is_not_an_object_refused(verifier: TokenVerifier) -> None:
    headers = {"kid": "rsa-1", "typ": "at+jwt"}
    token = jws.sign(b"[1, 2, 3]", _pem(RSA_KEY), headers=headers, algorithm="RS256")
    assert await refused(verifier, token) == "Malformed token"


@pytest.mark.parametrize(
    "changes",
    [
        {"trust_level": None},
        {"trust_level": "mittel"},
        {"sub": ""},
        {"roles": "clerk"},
        {"idnr": 42},
    ],
)
async def test_missing_or_malformed_identity_claims_refused(
    verifier: TokenVerifier, changes: dict[str, Any]
) -> None:
    assert await refused(verifier, sign(claims(**changes))) == "Token lacks required claims"


async def test_unreachable_idp_is_service_unavailable(
    verifier: TokenVerifier, idp: FakeIdP
) -> None:
    idp.down = True
    with pytest.raises(ServiceUnavailable):
        await verifier.verify(sign(claims()))


async def test_known_key_survives_idp_outage_after_cache_expiry(
    verifier: TokenVerifier, idp: FakeIdP, clock: Clock
) -> None:
    await verifier.verify(sign(claims()))
    idp.down = True
    clock.now += 7200
    later = int(clock.now)
    token = sign(claims(iat=later, nbf=later, exp=later + 60))
    assert (await verifier.verify(token)).name == "Erika Mustermann"
    assert idp.jwks_fetches == 2


async def test_discovery_naming_another_issuer_is_service_unavailable(
    verifier: TokenVerifier, idp: FakeIdP
) -> None:
    idp.discovery_issuer = "https://evil.example.test"
    with pytest.raises(ServiceUnavailable):
        await verifier.verify(sign(claims()))


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "none"), ()])
def test_symmetric_or_empty_allow_list_refused_at_construction(
    algorithms: tuple[str, ...],
) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(FakeIdP().handle))
    with pytest.raises(ValueError):
        TokenVerifier(ISSUER, AUDIENCE, client, algorithms=algorithms)


def test_trust_level_ordering() -> None:
    substanziell = Identity(sub="s", name="Jonas Schneider", trust_level="substanziell")
    assert substanziell.has_trust_level("niedrig")
    assert substanziell.has_trust_level("substanziell")
    assert not substanziell.has_trust_level("hoch")
    with pytest.raises(ValueError):
        substanziell.has_trust_level("sehr hoch")


async def test_discovery_document_is_shared_with_the_login_flow(
    verifier: TokenVerifier, idp: FakeIdP
) -> None:
    config = await verifier.discovery()
    assert config["jwks_uri"] == f"{ISSUER}/certs"
    config["jwks_uri"] = "https://evil.example.test/certs"
    await verifier.verify(sign(claims()))
    assert idp.paths == [
        "/realms/sandbox/.well-known/openid-configuration",
        "/realms/sandbox/certs",
    ]


# --- issue 14, item 10: token type and authorised party --------------------------------------


@pytest.fixture
def api_verifier(idp: FakeIdP, clock: Clock) -> TokenVerifier:
    """The API's verifier as the platform builds it: with its registered clients."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(idp.handle))
    return TokenVerifier(ISSUER, AUDIENCE, client, clock=clock, api_clients=["knopfdruck-portal"])


async def test_id_token_refused_at_the_api(api_verifier: TokenVerifier) -> None:
    """An ID token for the API's audience (same claims, `typ` JWT) is no access token."""
    id_token = sign(claims(azp="knopfdruck-portal"), typ="JWT")
    assert await refused(api_verifier, id_token) == "Not an access token"
    assert await refused(api_verifier, sign(claims(client_id="knopfdruck-portal"), typ=None)) == (
        "Not an access token"
    )


async def test_wrong_token_type_refused(api_verifier: TokenVerifier) -> None:
    for typ in ("JWT", "logout+jwt", "dpop+jwt"):
        token = sign(claims(client_id="knopfdruck-portal"), typ=typ)
        assert await refused(api_verifier, token) == "Not an access token"
    # And an access token cannot stand in for an ID token at the login.
    access = sign(claims(aud="knopfdruck-portal", client_id="knopfdruck-portal"))
    assert await refused(api_verifier, access, audience="knopfdruck-portal") == (
        "An access token is no ID token"
    )


async def test_unknown_authorised_party_refused(api_verifier: TokenVerifier) -> None:
    assert await refused(api_verifier, sign(claims(client_id="mallory-app"))) == (
        "Token issued to an unknown client"
    )
    assert await refused(api_verifier, sign(claims(azp="mallory-app"))) == (
        "Token issued to an unknown client"
    )
    assert await refused(api_verifier, sign(claims())) == "Token issued to an unknown client"
    id_token = sign(claims(aud="knopfdruck-portal", azp="mallory-app"), typ="JWT")
    assert await refused(api_verifier, id_token, audience="knopfdruck-portal") == (
        "Token issued to another client"
    )


async def test_valid_access_token_accepted_at_the_api(api_verifier: TokenVerifier) -> None:
    identity = await api_verifier.verify(sign(claims(client_id="knopfdruck-portal")))
    assert identity.name == "Erika Mustermann"
    upper = sign(claims(azp="knopfdruck-portal"), typ="application/at+jwt")
    assert (await api_verifier.verify(upper)).trust_level == "hoch"
