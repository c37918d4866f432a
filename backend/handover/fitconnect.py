"""FIT-Connect metadata 1.0.0: what a submission carries besides its ciphertext, as published.

The mapping from a case to the official metadata schema lives here and only here; every
metadata object is validated against the unchanged schema file (``fitconnect_schema/``) before
it is encrypted, so a message the Fachverfahren could not read is never sent. Pure: no
database, no HTTP. See docs/standards/fit-connect.md for what is mapped and what is not.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_FILE = Path(__file__).parent / "fitconnect_schema" / "metadata.schema.v1.0.0.json"
METADATA_SCHEMA = "https://schema.fitko.de/fit-connect/metadata/1.0.0/metadata.schema.json"
FACHDATEN_SCHEMA_URN = "urn:knopfdruck:fachdaten:"
"""Prefix of the submissionSchema.schemaUri: the Fachdaten are Knopfdruck's own JSON per
service and version (no FIM data schema is published for them yet)."""
PURPOSES = {"attachment": "attachment", "document": "report", "form": "form"}
"""Our attachment kinds to the schema's purpose: an issued document is a 'report'."""
_TRANSACTION_ID = re.compile(r"^[\w\d-]{1,36}$")


class MetadataInvalid(ValueError):
    """Metadata that does not validate against the official schema: nothing is sent."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("FIT-Connect metadata invalid: " + "; ".join(problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class PaymentInformation:
    """A fee the citizen paid for the case, as the payment provider confirmed it."""

    transaction_id: str
    transaction_reference: str
    amount: str
    paid_at: datetime | None


@dataclass(frozen=True)
class AnnouncedAttachment:
    """What the metadata says about one attachment: never its content."""

    attachment_id: str
    filename: str
    media_type: str
    purpose: str
    sha512: str


def wire_id(identifier: str) -> str:
    """An id in the UUID form FIT-Connect requires (ours are UUID4 as 32 hex digits)."""
    return str(uuid.UUID(hex=identifier))


def build_metadata(
    *,
    service_identifier: str,
    service_name: str,
    schema_uri: str,
    data_sha512: str,
    attachments: tuple[AnnouncedAttachment, ...],
    case_reference: str,
    application_date: date,
    payment: PaymentInformation | None,
) -> dict[str, Any]:
    """The metadata object of the submission, in the shape of the published schema."""
    metadata: dict[str, Any] = {
        "$schema": METADATA_SCHEMA,
        "contentStructure": {
            "data": {
                "submissionSchema": {"schemaUri": schema_uri, "mimeType": "application/json"},
                "hash": {"type": "sha512", "content": data_sha512},
            },
            "attachments": [
                {
                    "attachmentId": wire_id(a.attachment_id),
                    "filename": a.filename,
                    "mimeType": a.media_type,
                    "purpose": PURPOSES.get(a.purpose, a.purpose),
                    "hash": {"type": "sha512", "content": a.sha512},
                }
                for a in attachments
            ],
        },
        "publicServiceType": {"identifier": service_identifier, "name": service_name},
        "additionalReferenceInfo": {
            "senderReference": case_reference,
            "applicationDate": application_date.isoformat(),
        },
    }
    if payment is not None:
        metadata["paymentInformation"] = _payment(payment)
    return metadata


def _payment(payment: PaymentInformation) -> dict[str, Any]:
    """A booked payment; the schema knows no 'paid by our provider' method, so 'OTHER'."""
    try:
        amount = Decimal(payment.amount)
    except InvalidOperation:
        raise MetadataInvalid([f"payment amount {payment.amount!r} is not a number"]) from None
    info: dict[str, Any] = {
        "transactionId": payment.transaction_id,
        "transactionReference": payment.transaction_reference,
        "paymentMethod": "OTHER",
        "status": "BOOKED",
        # Two decimals exactly: the schema's multipleOf 0.01 on a JSON number.
        "grossAmount": float(amount.quantize(Decimal("0.01"))),
    }
    if payment.paid_at is not None:
        info["transactionTimestamp"] = payment.paid_at.isoformat()
    return info


def transaction_id(candidate: str) -> str:
    """The provider's reference if the schema accepts it as transactionId, else ours."""
    return (
        candidate
        if _TRANSACTION_ID.match(candidate)
        else uuid.uuid5(uuid.NAMESPACE_URL, candidate).hex
    )


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    # Decimals, not floats: multipleOf 0.01 on a float fails for amounts like 19.99.
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def metadata_problems(metadata: Any) -> list[str]:
    """Every violation of the official schema: where, and which rule, without the value."""
    problems = []
    # Numbers as written on the wire, read as decimals (see _validator).
    exact = json.loads(json.dumps(metadata, default=str), parse_float=Decimal)
    for error in sorted(_validator().iter_errors(exact), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        # The validator's name, never its message: that quotes the value (a filename, a name).
        problems.append(f"{where}: fails '{error.validator}'")
    if isinstance(metadata, dict) and metadata.get("$schema") != METADATA_SCHEMA:
        problems.append(f"$schema: must be {METADATA_SCHEMA}")
    return problems


def validate_metadata(metadata: Any) -> None:
    """Raise MetadataInvalid unless the metadata validates against the published schema."""
    problems = metadata_problems(metadata)
    if problems:
        raise MetadataInvalid(problems)
