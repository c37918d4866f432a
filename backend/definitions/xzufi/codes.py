"""The XZuFi 2.2 names and code lists Knopfdruck uses, in one place (docs/standards/xzufi.md)."""

from __future__ import annotations

from enum import StrEnum

VERSION = "2.2.0"
NS = "http://xoev.de/schemata/xzufi/2_2_0"
LANGUAGES = ("de", "en")
SCHEME_AGENCY_ID = "knopfdruck"
"""Who issued our ids (schemeAgencyID): the platform, until a PVOG redaktion assigns its own."""

LEIKA_LIST_URI = "urn:de:fim:leika:leistung"
TEXT_MODULE_LIST_URI = "urn:de:xzufi:codeliste:leistungstextmodulleika"
LINK_TYPE_LIST_URI = "urn:xoev-de:fim:codeliste:onlinedienstlinktyp"
LINK_TYPE_ONLINE_SERVICE = "01"
"""Code of the link that starts the online service; the value is not confirmed (see docs)."""


class TextModule(StrEnum):
    """Text modules of a Leistung (codelist urn:de:xzufi:codeliste:leistungstextmodulleika)."""

    LEISTUNGSBEZEICHNUNG = "02"
    LEISTUNGSNAME = "03"
    KURZTEXT = "05"
    VOLLTEXT = "06"
    RECHTSGRUNDLAGEN = "07"
    ERFORDERLICHE_UNTERLAGEN = "08"
    VORAUSSETZUNGEN = "09"
    VERFAHRENSABLAUF = "11"
    WEITERFUEHRENDE_INFORMATIONEN = "15"
    HINWEISE = "16"
    ZUSTAENDIGE_STELLE = "22"
    RECHTSBEHELF = "25"
