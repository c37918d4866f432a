"""The backend's xdomea check refuses a DTD instead of crashing on it (an E-Akte's answer is
outside input)."""

from __future__ import annotations

from backend.cases.xdomea_check import validate


def test_a_message_with_a_dtd_and_an_entity_is_refused_not_a_crash() -> None:
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "boom">]>\n'
        b'<xdomea:FVDaten.ImportBestaetigen.0630 xmlns:xdomea="urn:xoev-de:xdomea:schema:3.0.0">'
        b"&e;</xdomea:FVDaten.ImportBestaetigen.0630>"
    )
    assert validate(xml) == [
        "a document type declaration (DTD) is not allowed in an xdomea message"
    ]


def test_not_xml_is_named_as_such() -> None:
    assert validate(b"no xml")[0].startswith("not well-formed XML")
