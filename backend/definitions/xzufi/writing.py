"""Writes the catalogue as an XZuFi 2.2 message for the portal network (PVOG).

Derived only from the service definitions and the publisher's settings; a service that lacks
what XZuFi requires is refused before anything is written, and the whole message passes our
XSD (``schema.check``) before it leaves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from backend.definitions.constraints import local_today
from backend.definitions.fee_amounts import fee_today
from backend.definitions.models import ServiceDefinition
from backend.definitions.xzufi.codes import (
    LANGUAGES,
    LEIKA_LIST_URI,
    LINK_TYPE_LIST_URI,
    LINK_TYPE_ONLINE_SERVICE,
    NS,
    SCHEME_AGENCY_ID,
    TEXT_MODULE_LIST_URI,
    VERSION,
    TextModule,
)
from backend.definitions.xzufi.schema import check
from backend.domain.remedy import remedy_for
from backend.settings import Settings


class XzufiIncomplete(ValueError):
    """A service lacks what an XZuFi Leistung must carry; the export names it and stops."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Publisher:
    """What the export needs beyond the definitions: where the portal is and who is competent."""

    base_url: str
    authority_name: str
    region_key: str
    """Amtlicher Regionalschlüssel (12 digits) of the area the authority is competent for."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Publisher:
        """The portal URL, default authority and ARS (until tenancy gives each its own)."""
        return cls(
            base_url=settings.base_url,
            authority_name=settings.authority_name,
            region_key=settings.handover_region_key,
        )


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, _q(tag), attrs)
    if text is not None:
        element.text = text
    return element


def _code(parent: Any, tag: str, code: str, list_uri: str) -> Any:
    """An XÖV code element: the ``code`` child is unqualified, as in every XÖV code type."""
    element = _sub(parent, tag, listURI=list_uri)
    etree.SubElement(element, "code").text = code
    return element


def _texts(parent: Any, tag: str, texts: dict[str, str]) -> None:
    for lang, text in texts.items():
        _sub(parent, tag, text, languageCode=lang)


def _localized(value: Any) -> dict[str, str]:
    return {lang: value.get(lang) for lang in LANGUAGES}


def missing(definition: ServiceDefinition, publisher: Publisher) -> list[str]:
    """What XZuFi requires that this service (or the publisher) does not say."""
    problems = []
    slug = definition.id
    if not definition.leika.isdigit() or len(definition.leika) != 14:
        problems.append(f"service '{slug}': no 14-digit LeiKa key (Leistungsschlüssel)")
    if not definition.title.de.strip():
        problems.append(f"service '{slug}': no German title (Leistungsbezeichnung)")
    if not definition.legal_basis.strip():
        problems.append(f"service '{slug}': no legal basis (Rechtsgrundlage)")
    if not (definition.authority or publisher.authority_name).strip():
        problems.append(f"service '{slug}': no competent authority (zuständige Stelle)")
    if not (publisher.region_key.isdigit() and len(publisher.region_key) == 12):
        problems.append("publisher: the region key (ARS) must be 12 digits")
    return problems


def _duration(definition: ServiceDefinition) -> dict[str, str]:
    if definition.typical_duration is not None:
        return _localized(definition.typical_duration)
    if definition.automation.legal_basis:
        return {"de": "in der Regel innerhalb einer Minute", "en": "usually within a minute"}
    days = definition.target_days
    return {"de": f"bis zu {days} Tage", "en": f"up to {days} days"}


def _leistung(
    parent: Any, definition: ServiceDefinition, publisher: Publisher, today: date
) -> None:
    leistung = _sub(_sub(parent, "schreibe"), "leistung")
    _sub(leistung, "id", definition.id, schemeAgencyID=SCHEME_AGENCY_ID)
    _code(leistung, "referenzLeiKa", definition.leika, LEIKA_LIST_URI)
    modules: list[tuple[TextModule, dict[str, str]]] = [
        (TextModule.LEISTUNGSBEZEICHNUNG, _localized(definition.title)),
        (TextModule.LEISTUNGSNAME, _localized(definition.title)),
        (TextModule.KURZTEXT, _localized(definition.description)),
        # Citations are not translated: the German text is the binding one.
        (TextModule.RECHTSGRUNDLAGEN, {"de": definition.legal_basis}),
    ]
    uploads = [f for f in definition.fields if f.type == "file"]
    if uploads:
        documents = {
            lang: "\n".join(
                f"{f.label.get(lang)} ({'Pflicht' if f.required else 'freiwillig'})"
                if lang == "de"
                else f"{f.label.get(lang)} ({'required' if f.required else 'optional'})"
                for f in uploads
            )
            for lang in LANGUAGES
        }
        modules.append((TextModule.ERFORDERLICHE_UNTERLAGEN, documents))
    authority = definition.authority or publisher.authority_name
    modules.append((TextModule.ZUSTAENDIGE_STELLE, {"de": authority}))
    if definition.procedure is not None:
        remedy = remedy_for(definition.procedure)
        if remedy.kind != "none":
            texts = {lang: "\n".join(remedy.text(lang)) for lang in LANGUAGES}
            modules.append((TextModule.RECHTSBEHELF, texts))
    for position, (module, texts) in enumerate(modules, start=1):
        text = _sub(leistung, "modulText")
        _code(text, "leikaTextmodul", module.value, TEXT_MODULE_LIST_URI)
        _sub(text, "positionDarstellung", str(position))
        _texts(text, "inhalt", texts)
    if definition.fees:
        kosten = _sub(leistung, "modulKosten")
        for fee in definition.fees:
            item = _sub(kosten, "kosten")
            amount = fee_today(definition, fee, today)
            if amount is not None:
                _sub(item, "betrag", f"{amount:.2f}", waehrung="EUR")
            labels = _localized(fee.label)
            if amount is None:
                labels = {
                    "de": labels["de"] + " (Höhe hängt vom Antrag ab)",
                    "en": labels["en"] + " (amount depends on the application)",
                }
            _texts(item, "beschreibung", labels)
            _sub(item, "rechtsgrundlage", fee.legal_reference)
    bearbeitung = _sub(leistung, "modulBearbeitungsdauer")
    _texts(bearbeitung, "beschreibung", _duration(definition))
    _sub(bearbeitung, "dauerMaxTage", str(definition.target_days))
    for lang in LANGUAGES:
        _sub(leistung, "sprachversion", languageCode=lang)


def _organisation_id(department: str, authority: str, known: dict[tuple[str, str], str]) -> str:
    key = (department, authority)
    if key not in known:
        taken = set(known.values())
        candidate, number = department, 2
        while candidate in taken:
            candidate = f"{department}-{number}"
            number += 1
        known[key] = candidate
    return known[key]


def catalogue_message(
    definitions: Iterable[ServiceDefinition],
    publisher: Publisher,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> bytes:
    """The XZuFi 2.2 message of the given services; refuses incomplete ones, checks our XSD."""
    services = list(definitions)
    problems = [problem for d in services for problem in missing(d, publisher)]
    if problems:
        raise XzufiIncomplete(sorted(set(problems)))
    day = today or local_today()
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    root = etree.Element(
        _q("transfer.operation.schreibe"),
        {
            "xzufiVersion": VERSION,
            "produkthersteller": "Knopfdruck",
            "produktbezeichnung": "Knopfdruck",
        },
        nsmap={"xzufi": NS},
    )
    head = _sub(root, "nachrichtenkopf")
    _sub(head, "nachrichtUUID", str(uuid.uuid4()))
    _sub(head, "erstellungszeitpunkt", moment.isoformat().replace("+00:00", "Z"))
    for definition in services:
        _leistung(root, definition, publisher, day)
    organisations: dict[tuple[str, str], str] = {}
    by_organisation: dict[str, list[ServiceDefinition]] = {}
    names: dict[str, str] = {}
    for definition in services:
        authority = definition.authority or publisher.authority_name
        oid = _organisation_id(definition.department, authority, organisations)
        names[oid] = authority
        by_organisation.setdefault(oid, []).append(definition)
    for oid, members in by_organisation.items():
        unit = _sub(_sub(root, "schreibe"), "organisationseinheit")
        _sub(unit, "id", oid, schemeAgencyID=SCHEME_AGENCY_ID)
        _sub(_sub(unit, "name"), "name", names[oid], languageCode="de")
        for definition in members:
            competence = _sub(unit, "zustaendigkeit")
            _sub(competence, "leistungID", definition.id, schemeAgencyID=SCHEME_AGENCY_ID)
            _sub(competence, "gebietID", publisher.region_key)
    base = publisher.base_url.rstrip("/")
    for definition in services:
        service = _sub(_sub(root, "schreibe"), "onlinedienst")
        _sub(service, "id", f"{definition.id}-online", schemeAgencyID=SCHEME_AGENCY_ID)
        _texts(service, "bezeichnung", _localized(definition.title))
        _sub(service, "leistungID", definition.id, schemeAgencyID=SCHEME_AGENCY_ID)
        link = _sub(service, "link")
        _code(link, "typ", LINK_TYPE_ONLINE_SERVICE, LINK_TYPE_LIST_URI)
        _sub(link, "uri", f"{base}/services/{definition.id}")
    check(root)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
