"""xdomea 3.0.0 for the E-Akte: a case of every shipped service as a schema-valid 0605 message
with its documents and hashes, and a broken message caught before it leaves (issue 16, item 1).

Validation here uses the official XSDs through lxml directly (backend/cases/xdomea_xsd, copied
unchanged, source and licence in SOURCE.md next to them), not the product's own helper.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from lxml import etree
from PIL import Image
from sqlmodel import Session, col, select

from backend.cases.eakte import deliver
from backend.cases.xdomea import XdomeaPackage, build_package
from backend.cases.xdomea_check import (
    HASH_EXTENSION,
    MESSAGE,
    NS,
    XSD_DIR,
    XdomeaInvalid,
    check_package,
)
from backend.context import AppContext
from backend.records.models import Case, CaseEvent, Document
from tests.conftest import ROOT, Platform
from tests.integration.casekit import context_for, settle
from tests.integration.enginekit import notified_case, wait_until
from tests.livesrv import process_env

X = {"x": NS}


@pytest.fixture(scope="module")
def official() -> etree.XMLSchema:
    return etree.XMLSchema(
        etree.parse(str(XSD_DIR / "xdomea-Nachrichten-FachverfahrensdatenAustauschen.xsd"))
    )


@pytest.fixture
def ctx(platform: Platform) -> Iterator[AppContext]:
    """The platform's own database and field keys, without a second worker."""
    context = context_for(platform, platform.settings.database_url, platform.settings.data_dir)
    yield context
    context.close()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


def _first_case(service: str) -> dict[str, Any]:
    cases = yaml.safe_load((ROOT / "services" / service / "tests/cases.yaml").read_text())
    return next(c for c in cases["cases"] if c.get("expect", {}).get("outcome") != "incomplete")


def _submit(platform: Platform, ctx: AppContext, service: str) -> str:
    """The service's first integrator test case, applied for through the API as the citizen."""
    case = _first_case(service)
    definition = yaml.safe_load((ROOT / "services" / service / "service.yaml").read_text())
    files = {f["id"] for f in definition["fields"] if f.get("type") == "file"}
    answers = {k: v for k, v in (case.get("answers") or {}).items() if k not in files}
    api = platform.api(case["persona"])
    created = api.post("/applications", json={"service": service})
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    if answers:
        r = api.patch(f"/applications/{app_id}", json={"answers": answers})
        assert r.status_code == 200, r.text
    for field in sorted(files & set(case.get("answers") or {})):
        r = api.put(
            f"/applications/{app_id}/files/{field}",
            files={"file": ("foto.jpg", _jpeg(), "image/jpeg")},
        )
        assert r.status_code == 200, r.text
    r = api.post(f"/applications/{app_id}/submit")
    assert r.status_code == 200, r.text
    case_id: str = r.json()["case_id"]
    wait_until(
        lambda: api.get(f"/cases/{case_id}").json()["status"] != "submitted",
        f"{service} case {case_id} to be taken",
        timeout=90,
    )
    return case_id


SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "service.yaml").exists())


@pytest.mark.parametrize("service", SERVICES)
def test_a_case_of_every_shipped_service_is_a_valid_xdomea_0605_message(
    platform: Platform, ctx: AppContext, official: etree.XMLSchema, service: str
) -> None:
    case_id = _submit(platform, ctx, service)
    settle(ctx, case_id, timeout_s=90)  # decided and notified, or handed to a Fachverfahren
    package = build_package(ctx, case_id, created_at=datetime.now(UTC))
    archive = zipfile.ZipFile(io.BytesIO(package.content))
    names = archive.namelist()
    assert names[0] == f"{package.process_id}_{MESSAGE}.xml"
    xml = archive.read(names[0])
    root = etree.fromstring(xml)
    assert official.validate(root), official.error_log  # the official XSD, not our helper

    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        events = session.exec(
            select(CaseEvent).where(col(CaseEvent.case_id) == case_id).order_by(col(CaseEvent.seq))
        ).all()
        documents = session.exec(select(Document).where(col(Document.case_id) == case_id)).all()
    # The message holds the case as it was when written (a Fachverfahren may answer since).
    events = [e for e in events if e.seq <= package.version]
    assert len(events) == package.version
    definition = ctx.catalogue.get(case.service, case.service_version)
    assert root.findtext("x:Kopf/x:Nachrichtentyp/code", namespaces=X) == "0605"
    assert root.findtext("x:Kopf/x:Absender/x:Organisationseinheit/x:Name", namespaces=X) == (
        definition.department
    )
    vorgang = root.find("x:SchriftgutobjektZumAblegen/x:Schriftgutobjekt/x:Vorgang", X)
    assert vorgang is not None
    assert root.findtext(".//x:FachverfahrenObjektID", namespaces=X) == case_id
    assert vorgang.findtext("x:AllgemeineMetadaten/x:Kennzeichen", namespaces=X) == case.reference
    assert definition.leika in (
        vorgang.findtext("x:AllgemeineMetadaten/x:Bemerkung", namespaces=X) or ""
    )
    assert (
        vorgang.findtext("x:AllgemeineMetadaten/x:Federfuehrung", namespaces=X) == case.department
    )
    # The audit chain: every event, with its hash, as Historie and as a protocol document.
    history = vorgang.findall("x:HistorienProtokollInformation", X)
    assert [h.findtext("x:Aktion", namespaces=X) for h in history] == [e.type for e in events]
    assert all(
        e.hash in (h.findtext("x:Bemerkung", namespaces=X) or "")
        for e, h in zip(events, history, strict=True)
    )

    # Every document, its bytes in the ZIP and its SHA-256 in the message.
    stated: dict[str, str] = {}
    for doc in vorgang.findall("x:Dokument", X):
        [name] = [n.text for n in doc.findall(".//x:Primaerdokument/x:Dateiname", X)]
        [ext] = [
            e
            for e in doc.findall("x:AnwendungsspezifischeErweiterung", X)
            if e.findtext("x:Kennung", namespaces=X) == HASH_EXTENSION
        ]
        sha = {
            f.findtext("x:Name", namespaces=X): f.findtext("x:Wert", namespaces=X)
            for f in ext.findall("x:Feld", X)
        }["SHA-256"]
        assert name is not None and sha is not None
        assert hashlib.sha256(archive.read(name)).hexdigest() == sha
        stated[name] = sha
    assert set(stated) == set(names[1:])
    contents = {hashlib.sha256(archive.read(n)).hexdigest() for n in names[1:]}
    assert {d.sha256 for d in documents} <= contents  # notices as issued, byte for byte
    types = [d.findtext("x:Typ", namespaces=X) for d in vorgang.findall("x:Dokument", X)]
    assert "Eingangsbestätigung" in types and "Protokoll" in types and "Antragsdaten" in types
    protocol = next(n for n in names if n.endswith("_vorgangsprotokoll.xml"))
    log = etree.fromstring(archive.read(protocol))
    assert [e.get("Hash") for e in log.findall("Eintrag")] == [e.hash for e in events]
    assert check_package(package.content).documents == len(stated)


def _tampered(
    package: XdomeaPackage,
    *,
    xml: bytes | None = None,
    extra: dict[str, bytes] | None = None,
    change: str = "",
) -> XdomeaPackage:
    source = zipfile.ZipFile(io.BytesIO(package.content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith(".xml") and name.startswith(package.process_id) and xml is not None:
                data = xml
            if change and name.endswith(change):
                data = data + b" "
            target.writestr(name, data)
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return XdomeaPackage(
        package.process_id,
        package.case_id,
        package.reference,
        package.version,
        package.filename,
        out.getvalue(),
        xml or package.xml,
    )


def test_a_broken_message_is_caught_before_it_leaves(platform: Platform, ctx: AppContext) -> None:
    _, case_id = notified_case(platform)
    package = build_package(ctx, case_id, created_at=datetime.now(UTC))
    sandbox = f"{platform.base_url}/sandbox/eakte/messages"
    settings = ctx.settings.model_copy(update={"eakte_url": sandbox})
    before = httpx.get(sandbox).json()

    # A required element of the Kopf removed: the schema check refuses it.
    no_creator = package.xml.replace(b"<xdomea:Erstellerkennung>", b"<xdomea:Bemerkung>").replace(
        b"</xdomea:Erstellerkennung>", b"</xdomea:Bemerkung>"
    )
    broken = _tampered(package, xml=no_creator)
    with pytest.raises(XdomeaInvalid) as caught:
        deliver(settings, broken)
    assert "Bemerkung" in str(caught.value)
    # A document changed after the hash was taken, and a file the message does not name.
    with pytest.raises(XdomeaInvalid, match="SHA-256 does not match"):
        deliver(settings, _tampered(package, change=".pdf"))
    with pytest.raises(XdomeaInvalid, match="not named in the message"):
        deliver(settings, _tampered(package, extra={"fremd.txt": b"x"}))
    # Nothing reached the E-Akte.
    assert httpx.get(sandbox).json() == before

    # The sandbox E-Akte refuses the same on its own, with a 0630 naming the schema error.
    answer = httpx.post(
        sandbox, content=broken.content, headers={"Content-Type": "application/zip"}
    )
    assert answer.status_code == 422
    assert b"<code>0000008</code>" in answer.content
    assert httpx.get(sandbox).json() == before


def test_the_cli_writes_xdomea_and_keeps_our_own_zip_the_default(
    platform: Platform, ctx: AppContext, official: etree.XMLSchema, tmp_path: Path
) -> None:
    _, case_id = notified_case(platform)
    env = process_env(
        KNOPFDRUCK_DATABASE_URL=platform.settings.database_url,
        KNOPFDRUCK_DATA_DIR=str(platform.settings.data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(platform.settings.services_dir),
        KNOPFDRUCK_PORTAL_CONFIG=str(platform.settings.portal_config),
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "knopfdruck.cli", "export-case", case_id, *args],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
            env=env,
        )

    done = run("--format", "xdomea", "-o", str(tmp_path / "x.zip"))
    assert done.returncode == 0, done.stderr
    archive = zipfile.ZipFile(tmp_path / "x.zip")
    assert official.validate(etree.fromstring(archive.read(archive.namelist()[0])))
    own = run("-o", str(tmp_path / "own.zip"))
    assert own.returncode == 0, own.stderr
    assert "manifest.json" in zipfile.ZipFile(tmp_path / "own.zip").namelist()
    unknown = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "export-case", "0" * 32, "--format", "xdomea"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=env,
    )
    assert unknown.returncode == 1 and "no case with id" in unknown.stderr
    assert "Traceback" not in unknown.stderr
