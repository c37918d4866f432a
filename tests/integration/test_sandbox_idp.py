"""The sandbox IdP over real HTTP (uvicorn on loopback), verified by the backend's TokenVerifier."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jose import jws, jwt
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from backend.auth.tokens import Identity, TokenVerifier
from backend.errors import Unauthorized
from sandbox.idp import AuthorizationCodes, AuthorizationRequest, build_idp_router
from sandbox.idp_tokens import KEY_FILE_NAME, SigningKeyring
from sandbox.personas import PERSONAS, persona_by_id

pytestmark = pytest.mark.anyio

CLIENT_ID = "knopfdruck-portal"
MOUNT = "/sandbox/idp"


@contextmanager
def serve_app(build_app: Callable[[str], FastAPI]) -> Iterator[str]:
    """Run the app built for its own base URL under uvicorn on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(build_app(base_url), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("idp-keys")


@pytest.fixture(scope="module")
def issuer(key_dir: Path) -> Iterator[str]:
    def build(base_url: str) -> FastAPI:
        app = FastAPI()
        app.include_router(build_idp_router(f"{base_url}{MOUNT}", key_dir), prefix=MOUNT)
        return app

    with serve_app(build) as base_url:
        yield f"{base_url}{MOUNT}"


class FormReader(HTMLParser):
    """Reads the login form the way a browser would submit it."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.hidden: dict[str, str] = {}
        self.personas: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.hidden[values["name"]] = values.get("value", "")
        elif tag == "input" and values.get("type") == "radio":
            self.personas.append(values["value"])


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_params(issuer: str, challenge: str, **changes: str) -> dict[str, str]:
    origin = issuer.removesuffix(MOUNT)
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": f"{origin}/auth/callback",
        "scope": "openid profile",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(changes)
    return params


async def log_in(
    client: httpx.AsyncClient, issuer: str, params: dict[str, str], persona: str
) -> str:
    """Walk the login page like a browser and return the code from the redirect."""
    page = await client.get(f"{issuer}/authorize", params=params)
    assert page.status_code == 200
    form = FormReader()
    form.feed(page.text)
    assert form.hidden["nonce"] == params["nonce"]
    answer = await client.post(
        f"{issuer.removesuffix(MOUNT)}{form.action}",
        data={**form.hidden, "persona": persona, "action": "login"},
    )
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == params["redirect_uri"]
    query = parse_qs(location.query)
    assert query["state"] == [params["state"]]
    return query["code"][0]


def code_exchange(params: dict[str, str], code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": params["redirect_uri"],
        "client_id": params["client_id"],
        "code_verifier": verifier,
    }


async def test_discovery_and_jwks(issuer: str, key_dir: Path) -> None:
    async with httpx.AsyncClient() as client:
        config = (await client.get(f"{issuer}/.well-known/openid-configuration")).json()
        assert config["issuer"] == issuer
        assert config["token_endpoint"] == f"{issuer}/token"
        assert config["code_challenge_methods_supported"] == ["S256"]
        assert config["id_token_signing_alg_values_supported"] == ["RS256"]
        jwks = (await client.get(config["jwks_uri"])).json()
    [key] = jwks["keys"]
    assert {key["kty"], key["use"], key["alg"]} == {"RSA", "sig", "RS256"}
    assert "d" not in key
    assert key["kid"] == jwcrypto_jwk.JWK(**key).thumbprint()
    on_disk = serialization.load_pem_private_key((key_dir / KEY_FILE_NAME).read_bytes(), None)
    assert isinstance(on_disk, rsa.RSAPrivateKey)
    assert on_disk.public_key().public_numbers().n == int.from_bytes(
        base64.urlsafe_b64decode(key["n"] + "=="), "big"
    )


async def test_persona_token_verifies_to_erika(issuer: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{issuer}/token", data={"persona": "erika"})
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        identity = await TokenVerifier(issuer, "knopfdruck", client).verify(body["access_token"])
    assert identity == Identity(
        sub="c0a1f6e2-5b7d-4e55-9a2e-0f3c9d1e7a01",
        name="Erika Mustermann",
        trust_level="hoch",
        idnr="86095742719",
        birthdate="1964-08-12",
    )


async def test_persona_grant_type_for_a_clerk(issuer: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{issuer}/token",
            data={
                "grant_type": "urn:knopfdruck:sandbox:persona",
                "persona": "supervisor-buergeramt",
            },
        )
        identity = await TokenVerifier(issuer, "knopfdruck", client).verify(
            response.json()["access_token"]
        )
    assert identity.is_clerk
    assert identity.department == "buergeramt"
    assert identity.roles == ("clerk", "supervisor")
    assert identity.idnr is None


async def test_token_verifies_with_jwcrypto(issuer: str) -> None:
    async with httpx.AsyncClient() as client:
        token = (await client.post(f"{issuer}/token", data={"persona": "jonas"})).json()
        jwks = (await client.get(f"{issuer}/jwks")).text
    checked = jwcrypto_jwt.JWT(
        jwt=token["access_token"],
        key=jwcrypto_jwk.JWKSet.from_json(jwks),
        algs=["RS256"],
        check_claims={"iss": issuer, "aud": "knopfdruck", "exp": None},
    )
    assert jwcrypto_jwt.json_decode(checked.claims)["idnr"] == "47036892816"


async def test_unknown_persona_is_400(issuer: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{issuer}/token", data={"persona": "mallory"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


async def test_unsupported_grant_type_is_400(issuer: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{issuer}/token", data={"grant_type": "password", "persona": "erika"}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_login_page_lists_every_persona(issuer: str) -> None:
    _, challenge = pkce_pair()
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{issuer}/authorize", params=authorize_params(issuer, challenge))
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="de">' in page.text
    assert "<main>" in page.text and "<h1>" in page.text
    assert "<script" not in page.text
    assert "<style" not in page.text and " style=" not in page.text
    form = FormReader()
    form.feed(page.text)
    assert form.personas == [p.id for p in PERSONAS if not p.is_clerk] + [
        p.id for p in PERSONAS if p.is_clerk
    ]
    for persona in PERSONAS:
        assert persona.name in page.text
        assert f'<label for="persona-{persona.id}">' in page.text


async def test_authorization_code_flow_with_pkce(issuer: str) -> None:
    verifier, challenge = pkce_pair()
    params = authorize_params(issuer, challenge)
    async with httpx.AsyncClient() as client:
        code = await log_in(client, issuer, params, "erika")
        exchange = code_exchange(params, code, verifier)
        response = await client.post(f"{issuer}/token", data=exchange)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        tokens = response.json()
        assert tokens["token_type"] == "Bearer"
        token_verifier = TokenVerifier(issuer, "knopfdruck", client)
        identity = await token_verifier.verify(
            tokens["id_token"], audience=CLIENT_ID, nonce=params["nonce"]
        )
        with pytest.raises(Unauthorized):
            await token_verifier.verify(tokens["id_token"], audience=CLIENT_ID, nonce="replayed")
        with pytest.raises(Unauthorized):
            await token_verifier.verify(tokens["id_token"])  # an ID token is no access token
        access = await token_verifier.verify(tokens["access_token"])
        second = await client.post(f"{issuer}/token", data=exchange)
    assert identity == access
    assert identity.name == "Erika Mustermann"
    assert identity.idnr == "86095742719"
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


async def test_wrong_code_verifier_refused_and_code_burnt(issuer: str) -> None:
    verifier, challenge = pkce_pair()
    wrong_verifier, _ = pkce_pair()
    params = authorize_params(issuer, challenge)
    async with httpx.AsyncClient() as client:
        code = await log_in(client, issuer, params, "erika")
        wrong = await client.post(
            f"{issuer}/token", data=code_exchange(params, code, wrong_verifier)
        )
        retry = await client.post(f"{issuer}/token", data=code_exchange(params, code, verifier))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert "access_token" not in wrong.json()
    assert retry.status_code == 400


async def test_redirect_uri_must_match_at_token_endpoint(issuer: str) -> None:
    verifier, challenge = pkce_pair()
    params = authorize_params(issuer, challenge)
    async with httpx.AsyncClient() as client:
        code = await log_in(client, issuer, params, "erika")
        exchange = code_exchange(params, code, verifier)
        exchange["redirect_uri"] = f"{issuer.removesuffix(MOUNT)}/elsewhere"
        response = await client.post(f"{issuer}/token", data=exchange)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/auth/callback",
        "http://127.0.0.1:1/auth/callback",
        "{origin}@evil.example/auth/callback",
        "//evil.example/auth/callback",
        "/auth/callback",
        "{origin}/auth/callback#fragment",
    ],
)
async def test_foreign_redirect_uri_is_400(issuer: str, redirect_uri: str) -> None:
    _, challenge = pkce_pair()
    origin = issuer.removesuffix(MOUNT)
    params = authorize_params(issuer, challenge, redirect_uri=redirect_uri.format(origin=origin))
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{issuer}/authorize", params=params)
        submitted = await client.post(
            f"{issuer}/authorize", data={**params, "persona": "erika", "action": "login"}
        )
    for response in (page, submitted):
        assert response.status_code == 400
        assert "location" not in response.headers
        assert '<html lang="de">' in response.text


async def test_missing_pkce_is_reported_to_the_client(issuer: str) -> None:
    params = authorize_params(issuer, "")
    del params["code_challenge_method"]
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{issuer}/authorize", params=params)
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == [params["state"]]


async def test_cancel_returns_access_denied(issuer: str) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(issuer, challenge)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{issuer}/authorize", data={**params, "action": "cancel"})
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["access_denied"]


async def test_unknown_persona_on_login_page_is_400(issuer: str) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(issuer, challenge)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{issuer}/authorize", data={**params, "persona": "mallory", "action": "login"}
        )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_logout_redirects_only_to_our_origin(issuer: str) -> None:
    origin = issuer.removesuffix(MOUNT)
    async with httpx.AsyncClient() as client:
        ours = await client.get(
            f"{issuer}/logout", params={"post_logout_redirect_uri": f"{origin}/", "state": "s1"}
        )
        foreign = await client.get(
            f"{issuer}/logout", params={"post_logout_redirect_uri": "https://evil.example/"}
        )
    assert ours.status_code == 303
    assert ours.headers["location"] == f"{origin}/?state=s1"
    assert foreign.status_code == 200
    assert "location" not in foreign.headers
    assert "abgemeldet" in foreign.text


def test_signing_key_persists_and_is_private(tmp_path: Path) -> None:
    first = SigningKeyring(tmp_path).signing_key
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600
    assert SigningKeyring(tmp_path).signing_key.kid == first.kid
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]


def test_all_keys_published_newest_signs(tmp_path: Path) -> None:
    old = SigningKeyring(tmp_path).signing_key
    newer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    newer_path = tmp_path / "idp-signing-key-2.pem"
    newer_path.write_bytes(
        newer.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    later = (tmp_path / KEY_FILE_NAME).stat().st_mtime_ns + 1_000_000_000
    os.utime(newer_path, ns=(later, later))
    keyring = SigningKeyring(tmp_path)
    assert [k["kid"] for k in keyring.jwks()["keys"]] == [old.kid, keyring.signing_key.kid]
    assert keyring.signing_key.kid != old.kid
    token = keyring.signing_key.sign({"sub": "x"})
    assert jws.get_unverified_header(token)["kid"] == keyring.signing_key.kid
    checked = jwcrypto_jwt.JWT(
        jwt=token, key=jwcrypto_jwk.JWKSet.from_json(json.dumps(keyring.jwks())), algs=["RS256"]
    )
    assert json.loads(checked.claims) == {"sub": "x"}


def test_authorization_code_expires_and_is_single_use() -> None:
    now = [1000.0]
    codes = AuthorizationCodes(lifetime_s=60, clock=lambda: now[0])
    persona = persona_by_id("erika")
    assert persona is not None
    request = AuthorizationRequest(
        client_id=CLIENT_ID,
        redirect_uri="http://127.0.0.1:8000/auth/callback",
        state="s",
        nonce="n",
        code_challenge="x" * 43,
        scope="openid",
    )
    used = codes.issue(persona, request)
    assert codes.redeem(used) is not None
    assert codes.redeem(used) is None
    late = codes.issue(persona, request)
    now[0] += 61
    assert codes.redeem(late) is None


# --- issue 14, item 10: only registered clients, and tokens say what they are ----------------


async def test_unknown_client_gets_invalid_client(issuer: str) -> None:
    """The sandbox used to issue tokens for any client_id at all."""
    async with httpx.AsyncClient() as client:
        token = await client.post(
            f"{issuer}/token", data={"persona": "erika", "client_id": "mallory-app"}
        )
        assert token.status_code == 401
        assert token.json()["error"] == "invalid_client"
        _verifier, challenge = pkce_pair()
        page = await client.get(
            f"{issuer}/authorize", params=authorize_params(issuer, challenge, client_id="evil")
        )
        assert page.status_code == 400
        assert "location" not in page.headers  # an unknown client gets no redirect either


async def test_tokens_carry_their_type_and_client(issuer: str) -> None:
    verifier, challenge = pkce_pair()
    params = authorize_params(issuer, challenge)
    async with httpx.AsyncClient() as client:
        code = await log_in(client, issuer, params, "erika")
        tokens = await client.post(f"{issuer}/token", data=code_exchange(params, code, verifier))
        body = tokens.json()
        persona = (await client.post(f"{issuer}/token", data={"persona": "jonas"})).json()
    access_header = jws.get_unverified_header(body["access_token"])
    id_header = jws.get_unverified_header(body["id_token"])
    assert access_header["typ"] == "at+jwt" and id_header["typ"] == "JWT"
    assert jwt.get_unverified_claims(body["access_token"])["client_id"] == CLIENT_ID
    assert jwt.get_unverified_claims(body["id_token"])["azp"] == CLIENT_ID
    assert jws.get_unverified_header(persona["access_token"])["typ"] == "at+jwt"
    assert jwt.get_unverified_claims(persona["access_token"])["client_id"] == CLIENT_ID
