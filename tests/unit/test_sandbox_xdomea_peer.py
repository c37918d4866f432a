"""The sandbox E-Akte reads xdomea with its own code, and its 0630 still suits the platform."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree

from backend.cases.xdomea_check import parse_acknowledgement
from sandbox.eakte import build_eakte_router
from sandbox.xdomea_peer import (
    ACKNOWLEDGEMENT,
    ALREADY_PROCESSED,
    CHECKSUM_EXTENSION,
    FILING,
    NS,
    SCHEMA_INVALID,
    SUCCESS,
    TRANSFER_ERROR,
    acknowledgement,
    parse,
    schema_problems,
)

PID = "0f1d2c8e-6a3b-4f52-9a43-1d0c6e7b9f10"
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONTENT = b"Antrag auf Anwohnerparkausweis\n"
STORED = f"{PID}_antrag.txt"


def _filing(*, sha256: str, size: int) -> bytes:
    """The smallest 0605 the schema accepts, with one primary document and its checksum."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<x:{FILING} xmlns:x="{NS}">
  <x:Kopf>
    <x:ProzessID>{PID}</x:ProzessID>
    <x:Nachrichtentyp><code>0605</code></x:Nachrichtentyp>
    <x:Erstellungszeitpunkt>2026-01-02T03:04:05+00:00</x:Erstellungszeitpunkt>
    <x:Absender><x:Institution><x:Name>Stadt</x:Name></x:Institution></x:Absender>
    <x:Empfaenger><x:Institution><x:Name>E-Akte</x:Name></x:Institution></x:Empfaenger>
    <x:Empfangsbestaetigung>1</x:Empfangsbestaetigung>
    <x:Importbestaetigung>1</x:Importbestaetigung>
    <x:Erstellerkennung>test</x:Erstellerkennung>
    <x:Stapel>0</x:Stapel>
  </x:Kopf>
  <x:SchriftgutobjektZumAblegen>
    <x:FachverfahrenObjektID>case-1</x:FachverfahrenObjektID>
    <x:Schriftgutobjekt><x:Vorgang>
      <x:Identifikation><x:ID>{PID}</x:ID></x:Identifikation>
      <x:AllgemeineMetadaten>
        <x:Betreff>Anwohnerparken</x:Betreff><x:Kennzeichen>AZ-1</x:Kennzeichen>
      </x:AllgemeineMetadaten>
      <x:Dokument>
        <x:Identifikation><x:ID>{PID}</x:ID></x:Identifikation>
        <x:AllgemeineMetadaten><x:Betreff>Antrag</x:Betreff></x:AllgemeineMetadaten>
        <x:Version><x:Nummer>1</x:Nummer><x:Format>
          <x:Name listVersionID="1.0"><code>045</code></x:Name><x:Version>UTF-8</x:Version>
          <x:Primaerdokument><x:Dateiname>{STORED}</x:Dateiname></x:Primaerdokument>
        </x:Format></x:Version>
        <x:AnwendungsspezifischeErweiterung>
          <x:Kennung>{CHECKSUM_EXTENSION}</x:Kennung><x:Name>Pruefsumme</x:Name>
          <x:Feld><x:Name>SHA-256</x:Name><x:Wert>{sha256}</x:Wert></x:Feld>
          <x:Feld><x:Name>Dateigroesse</x:Name><x:Wert>{size}</x:Wert></x:Feld>
        </x:AnwendungsspezifischeErweiterung>
      </x:Dokument>
    </x:Vorgang></x:Schriftgutobjekt>
  </x:SchriftgutobjektZumAblegen>
</x:{FILING}>""".encode()


def _good_filing() -> bytes:
    return _filing(sha256=hashlib.sha256(CONTENT).hexdigest(), size=len(CONTENT))


def _zip(xml: bytes, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{PID}_{FILING}.xml", xml)
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("code", [SUCCESS, SCHEMA_INVALID, ALREADY_PROCESSED, TRANSFER_ERROR])
def test_the_acknowledgement_validates_and_the_platform_reads_it(code: str) -> None:
    xml = acknowledgement(PID, code, sender="E-Akte", recipient="Knopfdruck", note="n", at=AT)
    assert schema_problems(xml, message=ACKNOWLEDGEMENT) == []
    ack = parse_acknowledgement(xml)
    assert (ack.process_id, ack.codes, ack.note) == (PID, [code], "n")
    assert ack.filed == (code in (SUCCESS, ALREADY_PROCESSED))


def test_an_unreadable_process_id_and_forbidden_characters_still_give_a_valid_answer() -> None:
    xml = acknowledgement(
        "not-a-uuid", SCHEMA_INVALID, sender="E", recipient="K", note="a\x01b\ufffe", at=AT
    )
    ack = parse_acknowledgement(xml)
    assert ack.process_id == "00000000-0000-0000-0000-000000000000"
    assert ack.note == "ab"


def test_a_schema_valid_filing_passes() -> None:
    assert schema_problems(_good_filing(), message=FILING) == []


def test_an_invalid_filing_is_named() -> None:
    broken = _good_filing().replace(b"<x:Stapel>0</x:Stapel>", b"")
    assert any("Stapel" in p for p in schema_problems(broken, message=FILING))


def test_the_wrong_message_or_no_xml_is_refused() -> None:
    ack = acknowledgement(PID, SUCCESS, sender="E", recipient="K", note="", at=AT)
    assert "erwartet" in schema_problems(ack, message=FILING)[0]
    assert "XML" in schema_problems(b"<x", message=FILING)[0]


def _with_entity() -> bytes:
    evil = _good_filing().replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    )
    return evil.replace(b"<x:Erstellerkennung>test", b"<x:Erstellerkennung>&e;")


def test_a_dtd_is_refused_and_its_entities_never_expanded() -> None:
    evil = _with_entity()
    assert b"root:" not in etree.tostring(parse(evil))
    assert schema_problems(evil, message=FILING) == ["DTD im Dokument nicht zulässig"]


def _post(client: TestClient, body: bytes) -> tuple[int, list[str]]:
    response = client.post("/messages", content=body)
    return response.status_code, parse_acknowledgement(response.content).codes


def test_the_sandbox_eakte_answers_each_case_with_its_code() -> None:
    app = FastAPI()
    app.include_router(build_eakte_router())
    client = TestClient(app)
    invalid = _zip(_good_filing().replace(b"<x:Stapel>0</x:Stapel>", b""), {STORED: CONTENT})
    assert _post(client, invalid) == (422, [SCHEMA_INVALID])
    assert _post(client, b"not a zip") == (422, [SCHEMA_INVALID])
    assert _post(client, _zip(_with_entity(), {STORED: CONTENT})) == (422, [SCHEMA_INVALID])
    wrong_hash = _zip(_filing(sha256="0" * 64, size=len(CONTENT)), {STORED: CONTENT})
    assert _post(client, wrong_hash) == (422, [TRANSFER_ERROR])
    assert _post(client, _zip(_good_filing(), {})) == (422, [TRANSFER_ERROR])
    extra = _zip(_good_filing(), {STORED: CONTENT, "extra.bin": b"x"})
    assert _post(client, extra) == (422, [TRANSFER_ERROR])
    assert client.get("/messages").json() == []
    good = _zip(_good_filing(), {STORED: CONTENT})
    assert _post(client, good) == (200, [SUCCESS])
    assert _post(client, good) == (200, [ALREADY_PROCESSED])
    filed = client.get(f"/messages/{PID}").json()
    assert (filed["case_id"], filed["reference"], filed["deliveries"]) == ("case-1", "AZ-1", 2)
