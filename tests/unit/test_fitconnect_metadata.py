"""FIT-Connect metadata 1.0.0: valid by the published schema, and a broken one is never sent."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from jwcrypto import jwk as cjwk

from backend.handover.fitconnect import (
    METADATA_SCHEMA,
    MetadataInvalid,
    PaymentInformation,
    metadata_problems,
    transaction_id,
    validate_metadata,
)
from backend.handover.message import Attachment, Submission, canonical_json, encrypted_body
from tests.fitconnect import STANDARDS, official_metadata_errors

PLAN_ID = uuid.uuid4().hex
RECEIPT_ID = uuid.uuid4().hex
SUBMISSION = Submission(
    submission_id=uuid.uuid4().hex,
    destination_id="fv-test",
    service_identifier="urn:de:fim:leika:leistung:99034004000000",
    service_name="Sondernutzung öffentlicher Straßen",
    case_reference="KD-2026-ABCD-EFGH",
    application_date=date(2026, 5, 2),
    schema_uri="urn:knopfdruck:fachdaten:sondernutzung:1",
    data=canonical_json({"fields": {"nutzung": "Umzug"}}),
    attachments=(
        Attachment(PLAN_ID, "Lageplan Müller.pdf", "application/pdf", "attachment", b"%PDF p"),
        Attachment(RECEIPT_ID, "Quittung.pdf", "application/pdf", "document", b"%PDF r"),
    ),
)
PAID = PaymentInformation(
    transaction_id="pay_4711-abc",
    transaction_reference="KD-2026-ABCD-EFGH",
    amount="36.5",
    paid_at=datetime(2026, 5, 2, 10, 30, tzinfo=UTC),
)


def test_the_packaged_schema_is_the_published_one() -> None:
    from backend.handover.fitconnect import SCHEMA_FILE

    assert SCHEMA_FILE.read_bytes() == (STANDARDS / "metadata.schema.v1.0.0.json").read_bytes()


def test_the_metadata_of_a_submission_validates_against_the_official_schema() -> None:
    metadata = SUBMISSION.metadata()
    assert official_metadata_errors(metadata) == []
    assert metadata["$schema"] == METADATA_SCHEMA
    data = metadata["contentStructure"]["data"]
    assert data["submissionSchema"] == {
        "schemaUri": "urn:knopfdruck:fachdaten:sondernutzung:1",
        "mimeType": "application/json",
    }
    assert [a["attachmentId"] for a in metadata["contentStructure"]["attachments"]] == [
        str(uuid.UUID(PLAN_ID)),
        str(uuid.UUID(RECEIPT_ID)),
    ]
    assert metadata["publicServiceType"]["identifier"] == SUBMISSION.service_identifier
    assert "paymentInformation" not in metadata


def test_a_paid_fee_travels_as_payment_information() -> None:
    metadata = dataclasses.replace(SUBMISSION, payment=PAID).metadata()
    assert official_metadata_errors(metadata) == []
    assert metadata["paymentInformation"] == {
        "transactionId": "pay_4711-abc",
        "transactionReference": "KD-2026-ABCD-EFGH",
        "paymentMethod": "OTHER",
        "status": "BOOKED",
        "grossAmount": 36.5,
        "transactionTimestamp": "2026-05-02T10:30:00+00:00",
    }
    # A provider reference the schema would refuse becomes a stable id it accepts.
    odd = transaction_id("pi/3Nx Ä 000000000000000000000000000000000000")
    assert odd == transaction_id("pi/3Nx Ä 000000000000000000000000000000000000")
    paid = dataclasses.replace(PAID, transaction_id=odd)
    assert official_metadata_errors(dataclasses.replace(SUBMISSION, payment=paid).metadata()) == []


@pytest.mark.parametrize("amount", ["0.01", "0.29", "19.99", "4.35", "1234.57", "100"])
def test_every_amount_in_cents_passes_multiple_of_one_cent(amount: str) -> None:
    # As binary floats, 19.99 / 0.01 is not a whole number: the check must count in decimals.
    paid = dataclasses.replace(PAID, amount=amount)
    metadata = dataclasses.replace(SUBMISSION, payment=paid).metadata()
    assert official_metadata_errors(metadata) == []
    assert metadata["paymentInformation"]["grossAmount"] == float(amount)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda m: m["contentStructure"]["data"].pop("submissionSchema"), "contentStructure/data"),
        (
            lambda m: m["contentStructure"]["attachments"][0].update(purpose="document"),
            "contentStructure/attachments/0/purpose",
        ),
        (
            lambda m: m["contentStructure"]["attachments"][0].update(attachmentId=PLAN_ID),
            "contentStructure/attachments/0/attachmentId",
        ),
        (
            lambda m: m["contentStructure"]["data"]["hash"].update(content="ABC"),
            "contentStructure/data/hash/content",
        ),
        (lambda m: m["publicServiceType"].update(identifier="99034004"), "publicServiceType"),
        (lambda m: m.update({"$schema": "urn:knopfdruck:handover:metadata:1"}), "$schema"),
    ],
)
def test_broken_metadata_is_caught_by_our_own_check(change: Any, where: str) -> None:
    metadata = SUBMISSION.metadata()
    change(metadata)
    assert official_metadata_errors(metadata) or where == "$schema"
    problems = metadata_problems(metadata)
    assert any(p.startswith(where) for p in problems), problems
    with pytest.raises(MetadataInvalid):
        validate_metadata(metadata)


def test_the_problems_name_no_values_so_no_personal_data_reaches_a_log() -> None:
    metadata = SUBMISSION.metadata()
    metadata["contentStructure"]["attachments"][0]["mimeType"] = "Lageplan Müller"
    [problem] = metadata_problems(metadata)
    assert problem == "contentStructure/attachments/0/mimeType: fails 'pattern'"


def test_a_submission_with_invalid_metadata_is_never_encrypted() -> None:
    key = cjwk.JWK.generate(kty="RSA", size=2048, kid="k", alg="RSA-OAEP-256", use="enc")
    public: dict[str, Any] = key.export_public(as_dict=True)
    for broken in (
        dataclasses.replace(SUBMISSION, service_identifier="Sondernutzung"),
        dataclasses.replace(
            SUBMISSION,
            attachments=(Attachment(PLAN_ID, "x.pdf", "pdf", "attachment", b"%PDF"),),
        ),
        dataclasses.replace(SUBMISSION, payment=dataclasses.replace(PAID, amount="0")),
    ):
        with pytest.raises(MetadataInvalid):
            encrypted_body(broken, public)
