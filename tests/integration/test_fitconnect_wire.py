"""Every service that hands over sends metadata the official FIT-Connect schema accepts."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from jwcrypto import jwe as cjwe
from jwcrypto import jwk as cjwk
from PIL import Image
from sqlmodel import Session, select

from backend.cases.uploads import attach_upload
from backend.context import AppContext, build_context
from backend.handover.models import Handover
from backend.uploads.models import Upload
from sandbox.fitconnect import key_file
from tests.conftest import Platform
from tests.fitconnect import official_metadata_errors, sender_client, sent_submission
from tests.integration.casekit import identity, settle, submit_cases


def _jpeg() -> bytes:
    photo = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 90, 60)).save(photo, format="JPEG")
    return photo.getvalue()


# What a citizen answers and uploads for each service that hands over; a new one must be added.
CASES: dict[str, tuple[dict[str, Any], str | None, str, bytes]] = {
    "maengelmelder": (
        {
            "fundort_strasse": "Heidestraße 20",
            "fundort_plz": "51147",
            "kategorie": "sperrmuell",
            "beschreibung": "Zwei Matratzen",
        },
        "foto",
        "image/jpeg",
        _jpeg(),
    ),
    "sondernutzung-extern": (
        {"nutzung": "Umzugswagen vor dem Haus, 8 m", "beginn": "2026-05-02"},
        None,  # the test service has no file field
        "",
        b"",
    ),
}


@pytest.fixture(scope="module")
def platform_ctx(platform: Platform) -> Iterator[AppContext]:
    ctx = build_context(platform.settings)
    yield ctx
    ctx.close()


def test_the_handover_services_are_the_ones_checked_here(platform_ctx: AppContext) -> None:
    handing_over = {
        d.id
        for d in platform_ctx.catalogue.all()
        if d.processing == "external" and d.handover is not None
    }
    assert handing_over == set(CASES)


def _stored_body(platform: Platform, destination: str, submission_id: str) -> dict[str, Any]:
    with sender_client(platform.settings) as client:
        return sent_submission(client, submission_id)


@pytest.mark.parametrize("service", sorted(CASES))
def test_the_submission_of_every_handover_service_has_schema_valid_metadata(
    platform: Platform, platform_ctx: AppContext, service: str
) -> None:
    answers, field_id, media_type, content = CASES[service]
    who = identity()

    def attach(application_id: str) -> None:
        if field_id is None:
            return
        # As the portal does it: checked, stored and entered as the field's answer.
        attach_upload(
            platform_ctx,
            who,
            application_id,
            field_id,
            filename=f"{field_id}.{media_type.rsplit('/', 1)[1]}",
            content=content,
        )

    [case_id] = submit_cases(platform_ctx, service, [answers], who, before_submit=attach)
    settle(platform_ctx, case_id, until_event="handed_over")
    with Session(platform_ctx.engine) as session:
        handover = session.exec(select(Handover).where(Handover.case_id == case_id)).one()
        stored = session.exec(select(Upload).where(Upload.case_id == case_id)).all()
    body = _stored_body(platform, handover.destination_id, handover.submission_id)

    key = cjwk.JWK.from_pem(
        key_file(platform.settings.data_dir, handover.destination_id).read_bytes()
    )
    message = cjwe.JWE()
    message.deserialize(body["encryptedMetadata"], key=key)
    metadata = json.loads(message.payload)
    assert official_metadata_errors(metadata) == []
    definition = platform_ctx.catalogue.get(service)
    assert metadata["publicServiceType"]["identifier"] == (
        f"urn:de:fim:leika:leistung:{definition.leika}"
    )
    announced = metadata["contentStructure"]["attachments"]
    uploads = [a for a in announced if a["purpose"] == "attachment"]
    assert [(a["mimeType"], a["hash"]["content"]) for a in uploads] == [
        (u.media_type, hashlib.sha512(u.content).hexdigest()) for u in stored
    ]
    assert len(stored) == (0 if field_id is None else 1)
    assert {a["attachmentId"] for a in announced} == set(body["encryptedAttachments"])
    assert all(str(uuid.UUID(a["attachmentId"])) == a["attachmentId"] for a in announced)
