"""The XZuFi edge: every shipped service exports and passes our XSD; a broken message is
caught before it leaves; a Leistung reads back as a skeleton; hostile XML is refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from backend.context import connectors_for
from backend.definitions.catalogue import Catalogue, load_catalogue
from backend.definitions.xzufi import (
    NS,
    Publisher,
    XzufiImportError,
    XzufiIncomplete,
    XzufiInvalid,
    catalogue_message,
    check,
    import_xzufi,
    parse_leistung,
    problems,
)
from backend.domain.remedy import remedy_for
from backend.settings import Settings
from backend.xmlsafe import parse
from tests.conftest import ROOT

PUBLISHER = Publisher(
    base_url="https://portal.example.de",
    authority_name="Stadt Köln – Bürgeramt",
    region_key="053150000000",
)
X = {"x": NS}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    settings = Settings(services_dir=ROOT / "services")
    return load_catalogue(ROOT / "services", connectors_for(settings))


def _message(catalogue: Catalogue, today: date = date(2026, 6, 1)) -> Any:
    return parse(catalogue_message(catalogue.all(), PUBLISHER, today=today))


@pytest.mark.parametrize("slug", sorted(p.name for p in (ROOT / "services").iterdir()))
def test_every_shipped_service_exports_and_passes_our_xsd(catalogue: Catalogue, slug: str) -> None:
    root = parse(catalogue_message([catalogue.get(slug)], PUBLISHER))
    assert problems(root) == []
    definition = catalogue.get(slug)
    leistung = root.find("x:schreibe/x:leistung", X)
    assert leistung.findtext("x:id", namespaces=X) == slug
    assert leistung.findtext("x:referenzLeiKa/code", namespaces=X) == definition.leika
    titles = {
        i.get("languageCode"): i.text
        for i in leistung.xpath("x:modulText[x:leikaTextmodul/code='02']/x:inhalt", namespaces=X)
    }
    assert titles == {"de": definition.title.de, "en": definition.title.en}
    legal = leistung.xpath("x:modulText[x:leikaTextmodul/code='07']/x:inhalt/text()", namespaces=X)
    assert legal == [definition.legal_basis]
    authority = leistung.xpath(
        "x:modulText[x:leikaTextmodul/code='22']/x:inhalt/text()", namespaces=X
    )
    assert authority == [definition.authority or PUBLISHER.authority_name]
    assert len(leistung.findall("x:modulKosten/x:kosten", X)) == len(definition.fees)
    remedy = leistung.xpath("x:modulText[x:leikaTextmodul/code='25']/x:inhalt", namespaces=X)
    if definition.procedure and remedy_for(definition.procedure).kind != "none":
        assert {r.get("languageCode") for r in remedy} == {"de", "en"}
    else:
        assert remedy == []
    uploads = [f for f in definition.fields if f.type == "file"]
    documents = leistung.xpath("x:modulText[x:leikaTextmodul/code='08']", namespaces=X)
    assert len(documents) == (1 if uploads else 0)
    link = root.findtext("x:schreibe/x:onlinedienst/x:link/x:uri", namespaces=X)
    assert link == f"https://portal.example.de/services/{slug}"
    gebiet = root.findtext("x:schreibe/x:organisationseinheit/x:zustaendigkeit/x:gebietID", None, X)
    assert gebiet == "053150000000"


def test_the_whole_catalogue_is_one_valid_message(catalogue: Catalogue) -> None:
    root = _message(catalogue)
    assert root.get("xzufiVersion") == "2.2.0"
    assert len(root.findall("x:schreibe/x:leistung", X)) == len(catalogue)
    assert len(root.findall("x:schreibe/x:onlinedienst", X)) == len(catalogue)


def test_fees_are_those_valid_on_the_german_day(catalogue: Catalogue) -> None:
    definition = catalogue.get("anwohnerparkausweis")
    root = parse(catalogue_message([definition], PUBLISHER, today=date(2026, 6, 1)))
    amounts = root.xpath("//x:kosten/x:betrag/text()", namespaces=X)
    from backend.definitions.fee_amounts import fee_today

    expected = [f"{fee_today(definition, fee, date(2026, 6, 1)):.2f}" for fee in definition.fees]
    assert amounts == expected


def test_a_message_without_leistungsschluessel_is_caught(catalogue: Catalogue) -> None:
    root = _message(catalogue)
    leika = root.find("x:schreibe/x:leistung/x:referenzLeiKa", X)
    leika.getparent().remove(leika)
    with pytest.raises(XzufiInvalid) as caught:
        check(root)
    assert any("referenzLeiKa" in problem for problem in caught.value.problems)


@pytest.mark.parametrize("amount", ["-5.00", "zwölf", "1.5", "1.234"])
def test_a_fee_with_a_bad_amount_is_caught(catalogue: Catalogue, amount: str) -> None:
    root = _message(catalogue)
    betrag = root.find(".//x:kosten/x:betrag", X)
    betrag.text = amount
    with pytest.raises(XzufiInvalid):
        check(root)


@pytest.mark.parametrize(
    ("xpath", "value"),
    [
        ("x:schreibe/x:leistung/x:referenzLeiKa/code", "9905801200100"),
        (".//x:zustaendigkeit/x:gebietID", "05315"),
        (".//x:leikaTextmodul/code", "99"),
    ],
)
def test_wrong_codes_are_caught(catalogue: Catalogue, xpath: str, value: str) -> None:
    root = _message(catalogue)
    root.find(xpath, X).text = value
    with pytest.raises(XzufiInvalid):
        check(root)


def test_a_wrong_language_or_a_dangling_reference_is_caught(catalogue: Catalogue) -> None:
    root = _message(catalogue)
    root.find(".//x:inhalt", X).set("languageCode", "fr")
    assert problems(root)
    root = _message(catalogue)
    root.find(".//x:onlinedienst/x:leistungID", X).text = "gibt-es-nicht"
    assert problems(root)


def test_several_documents_and_multi_line_texts_pass(catalogue: Catalogue) -> None:
    definition = catalogue.get("maengelmelder")
    upload = next(f for f in definition.fields if f.type == "file")
    second = upload.model_copy(update={"id": "skizze", "required": True})
    longer = definition.model_copy(update={"fields": [*definition.fields, second]})
    root = parse(catalogue_message([longer], PUBLISHER))
    documents = root.xpath(
        "//x:modulText[x:leikaTextmodul/code='08']/x:inhalt[@languageCode='de']/text()",
        namespaces=X,
    )
    assert len(documents) == 1 and documents[0].count("\n") == 1
    assert "(Pflicht)" in documents[0]


def test_a_blank_text_is_caught(catalogue: Catalogue) -> None:
    root = _message(catalogue)
    root.find(".//x:inhalt", X).text = " \n "
    assert problems(root)


def test_a_service_without_leika_is_refused_before_anything_is_written(
    catalogue: Catalogue,
) -> None:
    broken = catalogue.get("meldebescheinigung").model_copy(update={"leika": ""})
    with pytest.raises(XzufiIncomplete) as refused:
        catalogue_message([catalogue.get("kindergeld"), broken], PUBLISHER)
    assert "service 'meldebescheinigung': no 14-digit LeiKa key" in str(refused.value)


def test_a_bad_region_key_is_refused(catalogue: Catalogue) -> None:
    publisher = Publisher(PUBLISHER.base_url, PUBLISHER.authority_name, "05315")
    with pytest.raises(XzufiIncomplete, match="ARS"):
        catalogue_message(catalogue.all(), publisher)


def test_export_then_import_keeps_titles_and_legal_basis(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    for definition in catalogue.all():
        file = tmp_path / f"{definition.id}.xml"
        file.write_bytes(catalogue_message([definition], PUBLISHER))
        slug, text = import_xzufi(file, today=date(2026, 6, 1))
        skeleton = yaml.safe_load(text)
        assert slug == definition.id
        assert skeleton["title"] == {"de": definition.title.de, "en": definition.title.en}
        assert skeleton["description"] == {
            "de": " ".join(definition.description.de.split()),
            "en": " ".join(definition.description.en.split()),
        }
        assert skeleton["legal_basis"] == definition.legal_basis
        assert skeleton["leika"] == definition.leika
        assert skeleton["department"].startswith("TODO")
        if definition.fees:
            assert "# Kosten: " in text


def test_import_picks_the_leistung_asked_for(catalogue: Catalogue, tmp_path: Path) -> None:
    file = tmp_path / "katalog.xml"
    file.write_bytes(catalogue_message(catalogue.all(), PUBLISHER))
    slug, text = import_xzufi(file, leistung="kindergeld")
    assert slug == "kindergeld"
    assert yaml.safe_load(text)["title"]["de"] == catalogue.get("kindergeld").title.de
    with pytest.raises(XzufiImportError, match="no leistung with id gibt-es-nicht"):
        import_xzufi(file, leistung="gibt-es-nicht")


def test_import_takes_a_slug_and_reads_a_bare_leistung(tmp_path: Path) -> None:
    file = tmp_path / "leistung.xml"
    file.write_text(
        f"""<leistung xmlns="{NS}"><id schemeAgencyID="x">L100</id>
        <referenzLeiKa><code>99050012104000</code></referenzLeiKa>
        <modulText><leikaTextmodul><code>02</code></leikaTextmodul>
          <inhalt languageCode="de">Wohngeld <b>beantragen</b></inhalt></modulText>
        </leistung>""",
        encoding="utf-8",
    )
    slug, text = import_xzufi(file, slug="wohngeld")
    skeleton = yaml.safe_load(text)
    assert slug == "wohngeld"
    assert skeleton["title"]["de"] == "Wohngeld beantragen"
    assert skeleton["title"]["en"].startswith("TODO")
    assert skeleton["legal_basis"].startswith("TODO")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<leistung xmlns="http://xoev.de/schemata/xzufi/2_2_0">&e;</leistung>',
            "DTD",
        ),
        (
            b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>',
            "DTD",
        ),
        (b"Leistungsbezeichnung: Wohngeld", "not well-formed"),
        (b"", "not well-formed"),
        (b"<leistung xmlns='urn:other'/>", "not an XZuFi 2.2 document"),
        (b"<transfer xmlns='http://xoev.de/schemata/xzufi/2_2_0'/>", "no leistung"),
    ],
)
def test_hostile_or_foreign_input_is_refused_with_one_clear_line(data: bytes, says: str) -> None:
    with pytest.raises(XzufiImportError) as refused:
        parse_leistung(data, "upload.xml")
    message = str(refused.value)
    assert says in message and message.startswith("upload.xml: ")
    assert "\n" not in message


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(XzufiImportError, match="cannot read the file"):
        import_xzufi(tmp_path / "fehlt.xml")


def test_our_xsd_says_it_is_not_the_official_one() -> None:
    from backend.definitions.xzufi import SCHEMA_FILE

    head = SCHEMA_FILE.read_text(encoding="utf-8")[:1500]
    assert "NOT THE OFFICIAL XZuFi XSD" in head
    etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))
