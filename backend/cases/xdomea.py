"""xdomea 3.0.0: a case as ``FVDaten.SGOAblegen.0605``, the message a Fachverfahren files with.

The E-Akte / DMS of the authority imports xdomea (binding for the exchange of records by
IT-Planungsrat decision 2017/39). ``build_package`` writes one ZIP per case: the message
``<ProzessID>_FVDaten.SGOAblegen.0605.xml`` and, beside it, every primary document named
``<document UUID>_<name>`` as xdomea requires (``stringDateinameType``). Mapping
(docs/standards/xdomea.md has the full table):

- Kopf: ProzessID is a UUID derived from case id and case version, so sending the same version
  twice is recognisably the same message; Absender is the service's authority and department
  (``procedure.authority`` / ``authority`` / ``department`` until tenancy lands), Empfaenger
  the configured E-Akte; Empfangsbestaetigung 1, Importbestaetigung 1 (fixed), Stapel 0.
- One SchriftgutobjektZumAblegen, FachverfahrenObjektID = case id, holding a Vorgang:
  Kennzeichen = Aktenzeichen (case reference), Betreff = service title and reference,
  Federfuehrung = department, Aktenfuehrung = authority, Bemerkung = LeiKa key, service and
  legal basis; ZdA and ZdADatum once the case is closed or withdrawn; Laufzeit from submission.
- HistorienProtokollInformation: every event of the hash-chained case log (Aktion = event type,
  Akteur, DatumUhrzeit, Bemerkung = reason and the event's hash).
- Dokument per file: the Eingangsbestätigung (rendered as the citizen gets it), every issued
  notice, certificate and receipt, every upload, every mailbox message (as text), the case data
  (JSON) and the case log with its hashes as an XML protocol.
- The SHA-256 of each primary document: xdomea 3.0.0 has no checksum element, so it travels as
  the Dokument's AnwendungsspezifischeErweiterung ``urn:knopfdruck:xdomea:pruefsumme:1`` (Feld
  ``SHA-256`` and ``Dateigroesse``), which a receiver may verify and an importer may ignore.

Every message is validated against the official XSDs (packaged under ``xdomea_xsd/``) before
it is written or sent: an invalid one raises ``XdomeaInvalid`` and never leaves. The schema
check, the check of a received package and the 0630 acknowledgement are in ``xdomea_check.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases.xdomea_check import (
    HASH_EXTENSION,
    MESSAGE,
    NS,
    XdomeaInvalid,
    _code,
    _contact,
    _el,
    clean,
    validate,
)
from backend.columns import aware
from backend.context import AppContext
from backend.definitions.constraints import local_day
from backend.domain.case_state import TERMINAL
from backend.errors import NotFound
from backend.notifications.models import MailboxMessage
from backend.records.audit import verify_case_chain
from backend.records.models import Case, CaseEvent, Document
from backend.uploads.files import download_name
from backend.uploads.models import Upload

FIXED_TIME = (2000, 1, 1, 0, 0, 0)
_NAMESPACE = uuid.UUID("6f1d2c8e-6a3b-4f52-9a43-1d0c6e7b9f10")
"""Fixed: ProzessIDs derived from it stay the same across installations and releases."""

FORMATS: dict[str, tuple[str, str]] = {
    # media type: (code in Dateiformat 1.0, version written); 044 is PDF/A, which the notices
    # are (PDF/A-3b, backend/documents); uploads are re-encoded as plain PDF, PNG or JPEG.
    "application/pdf": ("018", "1.7"),
    "image/png": ("019", "1.2"),
    "image/jpeg": ("011", "1.02"),
    "text/plain": ("045", "UTF-8"),
    "application/xml": ("030", "1.0"),
    "application/json": ("100", "RFC 8259"),
}
NOTICE_FORMAT = ("044", "3b")


@dataclass(frozen=True)
class XdomeaPackage:
    process_id: str
    case_id: str
    reference: str
    version: int
    """The case log's length when written: a changed case is a new version, handed over again."""
    filename: str
    content: bytes
    xml: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class _File:
    uuid: str
    name: str
    title: str
    kind: str
    media_type: str
    content: bytes
    at: datetime
    incoming: bool
    pdfa: bool = False


def process_id(case_id: str, version: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{case_id}:{version}"))


def _uuid(hex32: str) -> str:
    try:
        return str(uuid.UUID(hex=hex32))
    except ValueError:
        return str(uuid.uuid5(_NAMESPACE, hex32))


def sender_of(ctx: AppContext, case: Case) -> tuple[str, str]:
    """(authority, department) of a case, from its service until tenancy lands."""
    definition = ctx.case_definition(case)
    procedure = getattr(definition, "procedure", None)
    authority = getattr(procedure, "authority", None) if procedure is not None else None
    name = (
        authority.name
        if authority is not None
        else (definition.authority or ctx.settings.authority_name)
    )
    return name, case.department


def case_version(session: Session, case_id: str) -> int:
    """The case log's length: each change to a case appends an event."""
    last = session.exec(
        select(CaseEvent.seq)
        .where(col(CaseEvent.case_id) == case_id)
        .order_by(col(CaseEvent.seq).desc())
    ).first()
    return int(last or 0)


def _protocol_xml(case: Case, events: list[CaseEvent], chain_ok: bool) -> bytes:
    """The case log as its own document, with every hash, so the E-Akte keeps the proof."""
    root = etree.Element("Vorgangsprotokoll", {"Aktenzeichen": clean(case.reference)})
    etree.SubElement(root, "Kette", {"intakt": "1" if chain_ok else "0"})
    for event in events:
        item = etree.SubElement(
            root,
            "Eintrag",
            {
                "Nummer": str(event.seq),
                "Zeitpunkt": aware(event.at).isoformat(),
                "Typ": clean(event.type),
                "Akteur": clean(event.actor),
                "VorherigerHash": event.prev_hash,
                "Hash": event.hash,
            },
        )
        if event.reason:
            etree.SubElement(item, "Begruendung").text = clean(event.reason)
        etree.SubElement(item, "Daten").text = clean(
            json.dumps(event.payload, ensure_ascii=False, sort_keys=True, default=str)
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _file_receipt(ctx: AppContext, case_id: str) -> None:
    """File the Eingangsbestätigung in the case's documents if the citizen never asked for it
    (the same bytes they would get), before the case log is read: filing it is an event, so
    doing it afterwards would change the version being handed over."""
    from backend.cases.receipts import receipt_pdf

    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            return
        citizen = Identity(sub=case.citizen_sub, name="", trust_level="")
    try:
        receipt_pdf(ctx, citizen, case_id)
    except NotFound:
        return


def _files(ctx: AppContext, session: Session, case: Case, events: list[CaseEvent]) -> list[_File]:
    files: list[_File] = []
    submitted = aware(case.submitted_at)
    data = json.dumps(
        {
            "reference": case.reference,
            "service": case.service,
            "service_version": case.service_version,
            "reference_date": case.reference_date.isoformat(),
            "data": case.data,
            "decision": case.decision,
            "outcome": case.outcome,
        },
        ensure_ascii=False,
        indent=2,
        sort_keys=True,
        default=str,
    ).encode()
    files.append(
        _File(
            _uuid(hashlib.sha256(f"data:{case.id}".encode()).hexdigest()[:32]),
            "antragsdaten.json",
            "Antragsdaten und Entscheidung",
            "Antragsdaten",
            "application/json",
            data,
            submitted,
            incoming=True,
        )
    )
    for upload in session.exec(
        select(Upload).where(col(Upload.case_id) == case.id).order_by(col(Upload.created_at))
    ).all():
        files.append(
            _File(
                _uuid(upload.id),
                download_name(upload.field_id, upload.media_type),
                f"Anlage: {upload.display_name}",
                "Anlage",
                upload.media_type,
                upload.content,
                aware(upload.created_at),
                incoming=True,
            )
        )
    for document in session.exec(
        select(Document).where(col(Document.case_id) == case.id).order_by(col(Document.created_at))
    ).all():
        files.append(
            _File(
                _uuid(document.id),
                document.filename,
                document.title,
                {
                    "notice": "Bescheid",
                    "certificate": "Bescheinigung",
                    "receipt": "Eingangsbestätigung",
                }.get(document.kind, "Quittung"),
                document.media_type,
                document.content,
                aware(document.created_at),
                incoming=False,
                pdfa=document.media_type == "application/pdf",
            )
        )
    for message in session.exec(
        select(MailboxMessage)
        .where(col(MailboxMessage.case_id) == case.id)
        .order_by(col(MailboxMessage.created_at))
    ).all():
        text = f"Betreff: {message.subject_de}\n\n{message.body_de}\n"
        files.append(
            _File(
                _uuid(message.id),
                f"nachricht-{aware(message.created_at):%Y%m%d-%H%M%S}.txt",
                f"Nachricht an die antragstellende Person: {message.subject_de}",
                "Schriftverkehr",
                "text/plain",
                text.encode(),
                aware(message.created_at),
                incoming=False,
            )
        )
    chain = verify_case_chain(session, case.id)
    files.append(
        _File(
            _uuid(hashlib.sha256(f"log:{case.id}".encode()).hexdigest()[:32]),
            "vorgangsprotokoll.xml",
            "Vorgangsprotokoll (hash-verkettet)",
            "Protokoll",
            "application/xml",
            _protocol_xml(case, events, chain.ok),
            aware(events[-1].at) if events else submitted,
            incoming=False,
        )
    )
    return files


def _document(parent: etree._Element, number: int, file: _File, reference: str) -> str:
    """One Dokument with its primary document; returns the name the file has in the ZIP."""
    stored = f"{file.uuid}_{re.sub(r'[^0-9A-Za-z._-]', '_', file.name)}"
    doc = _el(parent, "Dokument")
    ident = _el(doc, "Identifikation")
    _el(ident, "ID", file.uuid)
    _el(ident, "NummerImUebergeordnetenContainer", number)
    meta = _el(doc, "AllgemeineMetadaten")
    _el(meta, "Betreff", file.title[:500])
    _el(meta, "Kennzeichen", reference)
    day = local_day(file.at).isoformat()
    _el(doc, "Posteingangsdatum" if file.incoming else "Postausgangsdatum", day)
    _el(doc, "Typ", file.kind)
    version = _el(doc, "Version")
    _el(version, "Nummer", "1")
    code, format_version = (
        NOTICE_FORMAT if file.pdfa else FORMATS.get(file.media_type, ("100", "unbekannt"))
    )
    fmt = _el(version, "Format")
    _code(
        fmt, "Name", code, listURI="urn:xoev-de:xdomea:codeliste:dateiformat", listVersionID="1.0"
    )
    if code == "100":
        _el(fmt, "SonstigerName", file.media_type)
    _el(fmt, "Version", format_version)
    primary = _el(fmt, "Primaerdokument")
    _el(primary, "Dateiname", stored)
    _el(primary, "DateinameOriginal", file.name)
    _el(primary, "Ersteller", "Knopfdruck")
    _el(primary, "DatumUhrzeit", file.at.isoformat())
    extension = _el(doc, "AnwendungsspezifischeErweiterung")
    _el(extension, "Kennung", HASH_EXTENSION)
    _el(extension, "Name", "Prüfsumme des Primärdokuments")
    for name, value in (
        ("Dateiname", stored),
        ("SHA-256", hashlib.sha256(file.content).hexdigest()),
        ("Dateigroesse", str(len(file.content))),
    ):
        field = _el(extension, "Feld")
        _el(field, "Name", name)
        _el(field, "Wert", value)
    return stored


def build_package(ctx: AppContext, case_id: str, *, created_at: datetime) -> XdomeaPackage:
    """The validated 0605 message and its files as one ZIP; NotFound for an unknown case."""
    _file_receipt(ctx, case_id)
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"Es gibt keinen Vorgang {case_id}. (No such case.)")
        events = list(
            session.exec(
                select(CaseEvent)
                .where(col(CaseEvent.case_id) == case_id)
                .order_by(col(CaseEvent.seq))
            ).all()
        )
        version = events[-1].seq if events else 0
        files = _files(ctx, session, case, events)
        definition = ctx.case_definition(case)
        authority, department = sender_of(ctx, case)
        pid = process_id(case.id, version)

        root = etree.Element(f"{{{NS}}}{MESSAGE}", nsmap={"xdomea": NS})
        head = _el(root, "Kopf")
        _el(head, "ProzessID", pid)
        _code(head, "Nachrichtentyp", "0605")
        _el(head, "Erstellungszeitpunkt", created_at.isoformat(timespec="seconds"))
        _contact(head, "Absender", authority, department)
        _contact(head, "Empfaenger", ctx.settings.eakte_recipient or authority, "")
        system = _el(head, "SendendesSystem")
        _el(system, "InstanzID", ctx.settings.base_url)
        _el(system, "Produktname", "Knopfdruck")
        _el(head, "Empfangsbestaetigung", "1")
        _el(head, "Importbestaetigung", "1")
        _el(head, "Erstellerkennung", f"knopfdruck:{case.service}")
        _el(head, "Stapel", "0")

        item = _el(root, "SchriftgutobjektZumAblegen")
        _el(item, "FachverfahrenObjektID", case.id)
        sgo = _el(item, "Schriftgutobjekt")
        vorgang = _el(sgo, "Vorgang")
        _el(_el(vorgang, "Identifikation"), "ID", _uuid(case.id))
        meta = _el(vorgang, "AllgemeineMetadaten")
        _el(meta, "Betreff", f"{definition.title.de} – {case.reference}")
        _el(meta, "Kennzeichen", case.reference)
        _el(meta, "Federfuehrung", department)
        _el(meta, "Aktenfuehrung", authority)
        _el(
            meta,
            "Bemerkung",
            f"Leistung: {definition.title.de} (LeiKa {definition.leika}, "
            f"Definition {case.service} {case.service_version}); "
            f"Rechtsgrundlage: {definition.legal_basis}; Status: {case.status}"
            + (f"; Ergebnis: {case.outcome}" if case.outcome else ""),
        )
        _el(vorgang, "Typ", definition.title.de)
        closed = case.status in {str(s) for s in TERMINAL}
        _el(vorgang, "ZdA", "1" if closed else "0")
        if closed:
            _el(vorgang, "ZdADatum", local_day(case.updated_at).isoformat())
        period = _el(vorgang, "Laufzeit")
        _el(period, "Beginn", local_day(case.submitted_at).isoformat())
        if closed:
            _el(period, "Ende", local_day(case.updated_at).isoformat())
        for event in events:
            entry = _el(vorgang, "HistorienProtokollInformation")
            _el(entry, "Akteur", event.actor)
            _el(entry, "DatumUhrzeit", aware(event.at).isoformat())
            _el(entry, "Bemerkung", f"{event.reason or ''} [#{event.seq} {event.hash}]".strip())
            _el(entry, "Aktion", event.type)
        stored: dict[str, bytes] = {}
        for number, file in enumerate(files, start=1):
            stored[_document(vorgang, number, file, case.reference)] = file.content
        reference = case.reference

    xml = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    problems = validate(xml)
    if problems:
        raise XdomeaInvalid(problems)
    message_name = f"{pid}_{MESSAGE}.xml"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [(message_name, xml), *sorted(stored.items())]:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return XdomeaPackage(
        process_id=pid,
        case_id=case_id,
        reference=reference,
        version=version,
        filename=f"{pid}_{MESSAGE}.zip",
        content=buffer.getvalue(),
        xml=xml,
    )
