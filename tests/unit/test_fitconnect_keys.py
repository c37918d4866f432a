"""The destination key checks FIT-Connect requires: each one refuses a key that fails it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from backend.handover.fitconnect_keys import (
    UnusableKey,
    encryption_key,
    key_problem,
    load_anchors,
)
from sandbox.fitconnect import CA_FILE, _Keys
from tests.fitconnect import STANDARDS

NOW = datetime.now(UTC)


def _b64url(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _cert(
    subject: str,
    public: rsa.RSAPublicKey,
    issuer: tuple[str, rsa.RSAPrivateKey] | None,
    own: rsa.RSAPrivateKey | None = None,
    *,
    ca: bool = False,
    until: datetime | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signer = (
        (x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]), issuer[1])
        if issuer
        else (name, own)
    )
    assert signer is not None
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=2))
        .not_valid_after(until or NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


def _der(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


@dataclass
class Pki:
    root: x509.Certificate
    root_key: rsa.RSAPrivateKey
    key: rsa.RSAPrivateKey
    leaf: x509.Certificate

    def jwk(self, **changes: Any) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "RSA",
            "kid": "destination-key-1",
            "alg": "RSA-OAEP-256",
            "key_ops": ["wrapKey"],
            "n": _b64url(numbers.n),
            "e": _b64url(numbers.e),
            "x5c": [_der(self.leaf), _der(self.root)],
        }
        jwk.update(changes)
        return {k: v for k, v in jwk.items() if v is not None}


@pytest.fixture(scope="module")
def pki() -> Pki:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _cert("Root", root_key.public_key(), None, root_key, ca=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    leaf = _cert("fv-test", key.public_key(), ("Root", root_key))
    return Pki(root, root_key, key, leaf)


def test_a_key_that_meets_every_requirement_is_used_and_fits_the_published_jwk_schema(
    pki: Pki,
) -> None:
    good = pki.jwk()
    assert key_problem(good, [pki.root], NOW) is None
    assert encryption_key({"keys": [pki.jwk(alg="RSA1_5"), good]}, [pki.root]) == good
    spec = yaml.safe_load((STANDARDS / "submission-api.yaml").read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    jsonschema.validate({"keys": [good]}, {**schemas["JWKS"], "components": spec["components"]})


def test_every_requirement_refuses_a_key_that_fails_it(pki: Pki) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    weak_leaf = _cert("weak", weak.public_key(), ("Root", pki.root_key))
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = _cert("Stranger", stranger_key.public_key(), None, stranger_key, ca=True)
    foreign_leaf = _cert("fv-test", pki.key.public_key(), ("Stranger", stranger_key))
    expired = _cert("fv-test", pki.key.public_key(), ("Root", pki.root_key), until=NOW)
    by_leaf = _cert("fv-test", pki.key.public_key(), ("fv-test", pki.key))
    w = weak.public_key().public_numbers()
    cases: list[tuple[dict[str, Any], str]] = [
        (pki.jwk(kty="EC"), "kty"),
        (pki.jwk(alg="RSA1_5"), "alg"),
        (pki.jwk(key_ops=["verify"]), "key_ops"),
        (pki.jwk(key_ops=["wrapKey", "encrypt"]), "key_ops"),
        (pki.jwk(key_ops=None), "key_ops"),
        (pki.jwk(use="sig"), "use"),
        (pki.jwk(kid=None), "kid"),
        (pki.jwk(kid="short"), "kid"),
        (pki.jwk(e="AQAC"), "exponent"),
        (pki.jwk(n=_b64url(w.n), x5c=[_der(weak_leaf), _der(pki.root)]), "4096"),
        (pki.jwk(x5c=None), "x5c missing"),
        (pki.jwk(x5c=[]), "x5c missing"),
        (pki.jwk(x5c=["not base64!"]), "not a base64 DER"),
        (pki.jwk(x5c=[_der(weak_leaf), _der(pki.root)]), "does not hold this key"),
        (pki.jwk(x5c=[_der(expired), _der(pki.root)]), "not valid now"),
        (pki.jwk(x5c=[_der(pki.leaf), _der(stranger)]), "chain is broken"),
        (pki.jwk(x5c=[_der(by_leaf), _der(pki.leaf)]), "chain is broken"),
        (pki.jwk(x5c=[_der(foreign_leaf), _der(stranger)]), "does not end in a trusted"),
        (pki.jwk(x5c=[_der(foreign_leaf)]), "does not end in a trusted"),
    ]
    for key, expected in cases:
        problem = key_problem(key, [pki.root], NOW)
        assert problem is not None and expected in problem, (key.get("kid"), problem)
        with pytest.raises(UnusableKey):
            encryption_key({"keys": [key]}, [pki.root], NOW)
    assert key_problem(pki.jwk(), [], NOW) == (
        "no trust anchor configured for destination certificates"
    )
    # Without the root in the chain, a leaf issued by the anchor is still trusted.
    assert key_problem(pki.jwk(x5c=[_der(pki.leaf)]), [pki.root], NOW) is None
    for nothing in ({"keys": []}, {"nothing": 1}, [], "keys"):
        with pytest.raises(UnusableKey):
            encryption_key(nothing, [pki.root])


def test_the_refusal_says_which_key_failed_which_check(pki: Pki) -> None:
    with pytest.raises(UnusableKey) as refused:
        encryption_key(
            {"keys": [pki.jwk(alg="RSA1_5"), pki.jwk(kid="k2-longer", e="AQAC")]}, [pki.root]
        )
    assert str(refused.value) == (
        "the destination publishes no usable encryption key "
        "(destination-key-1: alg is not RSA-OAEP-256; k2-longer: exponent is not AQAB)"
    )


def test_the_sandbox_publishes_keys_that_pass_with_its_ca_as_the_anchor(tmp_path: Path) -> None:
    published = _Keys(tmp_path).get("d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51").public_jwk
    anchors = load_anchors(tmp_path / CA_FILE)
    assert key_problem(published, anchors) is None
    assert json.loads(json.dumps(published))["key_ops"] == ["wrapKey"]
    # Another sandbox's CA is not trusted.
    other = _Keys(tmp_path / "other")
    other.get("d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51")
    assert key_problem(published, load_anchors(tmp_path / "other" / CA_FILE)) == (
        "the x5c chain does not end in a trusted certificate"
    )


def test_the_platform_looks_for_the_sandbox_ca_where_the_sandbox_writes_it() -> None:
    from backend.handover.credentials import SANDBOX_CA_FILE

    assert SANDBOX_CA_FILE == CA_FILE


def test_a_signing_key_is_checked_for_verify_and_ps512_not_for_wrapping(pki: Pki) -> None:
    signing = pki.jwk(alg="PS512", key_ops=["verify"])
    assert key_problem(signing, [pki.root], NOW, signing=True) is None
    assert key_problem(signing, [pki.root], NOW) == "alg is not RSA-OAEP-256"
    assert key_problem(pki.jwk(), [pki.root], NOW, signing=True) == "alg is not PS512"
    assert key_problem(pki.jwk(alg="PS512"), [pki.root], NOW, signing=True) == (
        'key_ops is not ["verify"]'
    )
    assert key_problem({**signing, "use": "enc"}, [pki.root], NOW, signing=True) == "use is not sig"
