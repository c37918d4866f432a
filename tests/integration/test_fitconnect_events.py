"""The case's event log: Security Event Tokens signed PS512, verified; forged or altered refused."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from jwcrypto import jwk as cjwk
from jwcrypto import jws as cjws
from sqlmodel import Session, select

from backend.context import AppContext, build_context
from backend.handover.credentials import SANDBOX_CA_FILE
from backend.handover.delivery import read_event_log
from backend.handover.fitconnect_events import EventLogInvalid, verify_event, verify_event_log
from backend.handover.fitconnect_keys import load_anchors
from backend.handover.models import Handover
from tests.conftest import Platform
from tests.fitconnect import STANDARDS, sender_client
from tests.integration.casekit import identity, settle, submit_cases

SERVICE = "sondernutzung-extern"
ANSWERS = {"nutzung": "Umzugswagen vor dem Haus, 8 m", "beginn": "2026-05-02"}


@pytest.fixture(scope="module")
def platform_ctx(platform: Platform) -> Iterator[AppContext]:
    ctx = build_context(platform.settings)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def answered(platform: Platform, platform_ctx: AppContext) -> tuple[str, str]:
    """A case delivered by the platform's worker and accepted by the sandbox destination."""
    [case_id] = submit_cases(platform_ctx, SERVICE, [ANSWERS], identity())
    settle(platform_ctx, case_id, until_event="handed_over")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with Session(platform_ctx.engine) as session:
            handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
        if handover.status == "accepted":
            return case_id, handover.submission_id
        time.sleep(0.2)
    raise AssertionError(f"the handover stayed {handover.status}")


def _raw(platform: Platform, case_id: str) -> tuple[list[str], dict[str, Any]]:
    with sender_client(platform.settings) as client:
        log = client.get(f"/v1/cases/{uuid.UUID(case_id)}/events")
        log.raise_for_status()
        jwks = client.get("/.well-known/jwks.json").json()
    tokens: list[str] = log.json()["eventLog"]
    return tokens, jwks


def test_the_platform_reads_the_event_log_and_verifies_every_token(
    platform: Platform, platform_ctx: AppContext, answered: tuple[str, str]
) -> None:
    case_id, submission_id = answered
    events = read_event_log(platform_ctx, case_id)
    assert [(e.event, e.submission_id) for e in events] == [
        ("submitted", submission_id),
        ("accepted", submission_id),
    ]
    assert all(e.issuer == "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51" for e in events)

    # An independent JOSE library verifies the same tokens with the published key.
    tokens, jwks = _raw(platform, case_id)
    spec = yaml.safe_load((STANDARDS / "submission-api.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(
        jwks, {**spec["components"]["schemas"]["JWKS"], "components": spec["components"]}
    )
    [published] = jwks["keys"]
    assert published["alg"] == "PS512" and published["key_ops"] == ["verify"]
    for token in tokens:
        checked = cjws.JWS()
        checked.deserialize(token)
        checked.verify(cjwk.JWK(**published), alg="PS512")
        claims = json.loads(checked.payload)
        assert claims["txn"] == f"case:{uuid.UUID(case_id)}"
        assert claims["sub"] == f"submission:{uuid.UUID(submission_id)}"
    # Another sender sees nothing of this case.
    other = httpx.get(f"{platform.settings.handover_base_url}/v1/cases/{uuid.UUID(case_id)}/events")
    assert other.status_code == 401


def _b64(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return loaded


def test_a_forged_or_altered_token_is_refused(
    platform: Platform, answered: tuple[str, str]
) -> None:
    case_id, _ = answered
    fit_case = str(uuid.UUID(case_id))
    tokens, jwks = _raw(platform, case_id)
    anchors = load_anchors(platform.settings.data_dir / SANDBOX_CA_FILE)
    accepted = tokens[-1]
    assert verify_event(accepted, jwks, anchors, fit_case).event == "accepted"

    header, _, signature = accepted.split(".")
    claims = _claims(accepted)
    rejected = {
        **claims,
        "events": {"https://schema.fitko.de/fit-connect/events/reject-submission": {}},
    }
    kid = jwks["keys"][0]["kid"]
    stranger = cjwk.JWK.generate(kty="RSA", size=2048, kid=kid, alg="PS512")

    def forged(payload: dict[str, Any], key: cjwk.JWK, alg: str = "PS512") -> str:
        signed = cjws.JWS(json.dumps(payload).encode())
        signed.add_signature(
            key, alg=alg, protected=json.dumps({"typ": "secevent+jwt", "alg": alg, "kid": kid})
        )
        token: str = signed.serialize(compact=True)
        return token

    attacker_jwks = {"keys": [{**stranger.export_public(as_dict=True), "key_ops": ["verify"]}]}
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (f"{header}.{_b64(rejected)}.{signature}", jwks, fit_case, "signature invalid"),
        (forged(rejected, stranger), jwks, fit_case, "signature invalid"),
        (forged(rejected, stranger), attacker_jwks, fit_case, "signing key is not usable"),
        (forged(rejected, stranger, "RS512"), jwks, fit_case, "alg PS512"),
        (accepted, jwks, str(uuid.uuid4()), "another case"),
        (accepted, {"keys": []}, fit_case, "does not publish"),
        ("not.a-token", jwks, fit_case, "compact JWS"),
    ]
    for token, keys, case, expected in cases:
        with pytest.raises(EventLogInvalid) as refused:
            verify_event(token, keys, anchors, case)
        assert expected in str(refused.value), (expected, refused.value)
    # One bad token refuses the whole log, and a repeated event too.
    with pytest.raises(EventLogInvalid, match="event 2 refused: signature invalid"):
        verify_event_log(
            {"eventLog": [tokens[0], f"{header}.{_b64(rejected)}.{signature}"]},
            jwks,
            anchors,
            fit_case,
        )
    with pytest.raises(EventLogInvalid, match="appears twice"):
        verify_event_log({"eventLog": [accepted, accepted]}, jwks, anchors, fit_case)
