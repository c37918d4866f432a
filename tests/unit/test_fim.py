"""The FIM importer on real XDatenfelder 2.0 and 3.0 files, and on broken input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.definitions.fim import (
    FimImportError,
    identifier,
    import_fim,
    parse_fim,
    to_definition_yaml,
)
from backend.definitions.loader import load_definition, validate_tree
from prefill.configuration import build_default_registry
from prefill.connectors.registry import ConnectorRegistry

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fim"
XDF2 = FIXTURES / "S00000121_blaue_karte_xdf2.xml"
XDF3 = FIXTURES / "G60000000088_anschrift_inland_xdf3.xml"
NS2 = "urn:xoev-de:fim:standard:xdatenfelder_2"
NS3 = "urn:xoev-de:fim:standard:xdatenfelder_3.0.0"

# What an integrator would type for each kind of TODO; anything else gets a plain text.
_FILLED = {"leika": "99000000000000", "department": "auslaenderbehoerde", "days": 365}


@pytest.fixture(scope="module")
def connectors() -> ConnectorRegistry:
    return build_default_registry()


def _fill(node: Any, key: str | None = None) -> Any:
    """Replace every TODO value, as the integrator would, leaving everything else as imported."""
    if isinstance(node, dict):
        return {k: _fill(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, key) for v in node]
    if isinstance(node, str) and node.startswith("TODO"):
        return _FILLED.get(key or "", f"Text für {key}")
    return node


def _import_and_fill(file: Path, tmp_path: Path, connectors: ConnectorRegistry) -> Path:
    slug, text = import_fim(file, connectors=connectors)
    folder = tmp_path / slug
    folder.mkdir()
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    before = validate_tree(folder, connectors)
    # Unfilled, the skeleton is refused, and every TODO is named with its line.
    assert before, "a skeleton with TODOs must not validate"
    todo_lines = [p for p in before if ": unfinished: TODO" in p]
    assert len(todo_lines) == text.count('"TODO')
    data = _fill(yaml.load(text, Loader=yaml.SafeLoader))
    (folder / "service.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize("file", [XDF2, XDF3], ids=["xdf2-stammdatenschema", "xdf3-gruppe"])
def test_both_real_files_validate_once_the_todos_are_filled(
    file: Path, tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    folder = _import_and_fill(file, tmp_path, connectors)
    assert validate_tree(folder, connectors) == []


def test_xdf2_schema_maps_groups_types_cardinalities_and_code_lists(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    folder = _import_and_fill(XDF2, tmp_path, connectors)
    definition = load_definition(folder, connectors)
    assert definition.id == "antrag-blaue-karte-eu"
    assert definition.title.de == "Antrag auf Blaue Karte EU"
    assert definition.legal_basis == "§ 19a AufenthG"
    fields = {field.id: field for field in definition.fields}
    # Top-level Datenfeldgruppen became topics, in order.
    assert definition.topics[0].title.de == "Persönliche Angaben zum Antragsteller"
    assert fields["familienname"].topic == definition.topics[0].id
    # 1:1 in a 1:1 group is required; 0:1 is not.
    assert fields["familienname"].required is True
    assert fields["titel"].required is False
    # Types from datentyp and feldart.
    assert fields["groesse_person"].type == "decimal"
    assert fields["geschlecht"].type == "choice"
    assert {field.type for field in definition.fields} >= {"string", "date", "boolean", "file"}
    # The applicant's well-known fields are proposed data needs; later names are not.
    source = fields["familienname"].source
    assert source is not None
    assert (source.connector, source.attribute) == ("melderegister", "familienname")
    assert fields["geburtsort"].source is not None
    sourced = [f.source.attribute for f in definition.fields if f.source is not None]
    assert len(sourced) == len(set(sourced))
    # English labels of well-known fields are known; the help text stays German plus TODO.
    assert fields["familienname"].label.en == "Surname"
    assert fields["titel"].help is not None
    assert fields["titel"].help.de.startswith("Geben Sie Titel ein")
    # No automation without a legal basis the integrator adds.
    assert definition.automation.legal_basis is None


def test_xdf2_comments_keep_constraints_repetition_and_code_list_uris(
    connectors: ConnectorRegistry,
) -> None:
    _, text = import_fim(XDF2, connectors=connectors)
    assert "FIM constraints: maxLength 80, minLength 1" in text
    # FIM's lengths are the limits intake enforces (issue 14, item 4).
    assert "  - id: geburtsort\n    type: string\n" in text
    assert "    max_length: 80\n" in text
    assert "    max_length: 5\n    min_length: 5\n" in text
    assert "FIM allows several values" in text
    assert "urn:xpersonenstand:schluesseltabelle:geschlecht (Version 2)" in text
    assert "# F00000013 v1.0 Familienname" in text


def test_xdf3_group_maps_constraints_prefill_and_optional_groups(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    _, text = import_fim(XDF3, connectors=connectors)
    assert "XDatenfelder 3.0" in text
    assert "FIM constraints: maxLength 55, minLength 1" in text
    assert "FIM vorbefuellung 'keine'" in text
    assert "required in FIM, but inside an optional group" in text
    folder = _import_and_fill(XDF3, tmp_path, connectors)
    definition = load_definition(folder, connectors)
    (strasse,) = definition.fields
    assert strasse.id == "strasse"
    assert strasse.required is False  # the enclosing group is 0:1
    assert strasse.source is not None
    assert strasse.source.attribute == "anschrift.strasse"
    assert strasse.help is not None
    assert strasse.help.de == "Geben Sie an, wie die Straße heißt."


def _xdf3_group(fields: str, group_id: str = "<xdf:id>G1</xdf:id>") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xdf:xdatenfelder.datenfeldgruppe.0103 xmlns:xdf="{NS3}">
  <xdf:datenfeldgruppe>
    <xdf:identifikation>{group_id}<xdf:version>1.0.0</xdf:version></xdf:identifikation>
    <xdf:name>Testgruppe</xdf:name>
    <xdf:struktur><xdf:anzahl>1:1</xdf:anzahl><xdf:enthaelt>{fields}</xdf:enthaelt></xdf:struktur>
  </xdf:datenfeldgruppe>
</xdf:xdatenfelder.datenfeldgruppe.0103>""".encode()


_SELECT = """<xdf:datenfeld>
  <xdf:identifikation><xdf:id>F1</xdf:id><xdf:version>1.0.0</xdf:version></xdf:identifikation>
  <xdf:name>Farbe</xdf:name>
  <xdf:feldart><code>select</code></xdf:feldart>
  <xdf:datentyp><code>text</code></xdf:datentyp>
  <xdf:werte>
    <xdf:wert><xdf:code>r</xdf:code><xdf:name>Rot</xdf:name></xdf:wert>
    <xdf:wert><xdf:code>g</xdf:code><xdf:name>Grün</xdf:name></xdf:wert>
  </xdf:werte>
  <xdf:vorbefuellung><code>optional</code></xdf:vorbefuellung>
</xdf:datenfeld>"""


def test_xdf3_inline_code_list_becomes_options_and_vorbefuellung_a_proposal() -> None:
    text = to_definition_yaml(parse_fim(_xdf3_group(_SELECT)), slug="test")
    data = yaml.safe_load(text)
    (farbe,) = data["fields"]
    assert farbe["type"] == "choice"
    assert [(o["value"], o["label"]["de"]) for o in farbe["options"]] == [
        ("r", "Rot"),
        ("g", "Grün"),
    ]
    assert "FIM vorbefuellung 'optional': a register may hold this value" in text


def _xdf3_field(fim_id: str, name: str, datentyp: str, praezisierung: str) -> str:
    return f"""<xdf:datenfeld>
  <xdf:identifikation><xdf:id>{fim_id}</xdf:id><xdf:version>1.0.0</xdf:version></xdf:identifikation>
  <xdf:name>{name}</xdf:name>
  <xdf:feldart><code>input</code></xdf:feldart>
  <xdf:datentyp><code>{datentyp}</code></xdf:datentyp>
  <xdf:praezisierung {praezisierung}/>
</xdf:datenfeld>"""


def test_xdf3_value_ranges_and_patterns_become_input_rules(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    """Issue 21, item 4: what FIM says about a field's values holds at intake."""
    fields = (
        _xdf3_field("F1", "Anzahl", "num_int", 'minValue="0" maxValue="20"')
        + _xdf3_field("F2", "Betrag", "num", 'minValue="0.5" maxValue="abc"')
        + _xdf3_field("F3", "Beginn", "date", 'minValue="2020-01-01" maxValue="2030-12-31"')
        + _xdf3_field("F4", "Kennung", "text", 'pattern="[A-Z]{2}[0-9]{4}"')
    )
    text = to_definition_yaml(parse_fim(_xdf3_group(fields)), slug="test")
    anzahl, betrag, beginn, kennung = yaml.safe_load(text)["fields"]
    assert (anzahl["min"], anzahl["max"]) == (0, 20)
    assert betrag["min"] == 0.5 and "max" not in betrag  # not a number: left in the comment
    assert "FIM constraints: maxValue abc, minValue 0.5" in text
    assert (str(beginn["not_before"]), str(beginn["not_after"])) == ("2020-01-01", "2030-12-31")
    assert kennung["pattern"]["regex"] == "[A-Z]{2}[0-9]{4}"
    assert kennung["pattern"]["description"]["de"].startswith("TODO")


def test_malformed_xml_names_line_and_column() -> None:
    with pytest.raises(FimImportError, match=r"^in\.xml:3:\d+: malformed XML: mismatched tag"):
        parse_fim(b"<?xml version='1.0'?>\n<a>\n</b>", "in.xml")


def test_unknown_namespace_is_refused_with_the_supported_ones() -> None:
    data = _xdf3_group(_SELECT).replace(NS3.encode(), b"urn:example:not-fim")
    with pytest.raises(FimImportError) as raised:
        parse_fim(data, "x.xml")
    message = str(raised.value)
    assert "unknown namespace 'urn:example:not-fim'" in message
    assert NS2 in message and NS3 in message
    with pytest.raises(FimImportError, match="unknown namespace 'none'"):
        parse_fim(b"<stammdatenschema/>", "x.xml")


def test_missing_ids_are_named() -> None:
    with pytest.raises(
        FimImportError, match=r"Datenfeldgruppe 'Testgruppe' .* no identifikation/id"
    ):
        parse_fim(_xdf3_group(_SELECT, group_id=""), "x.xml")
    no_field_id = _SELECT.replace("<xdf:id>F1</xdf:id>", "")
    with pytest.raises(FimImportError, match=r"x\.xml: Datenfeld 'Farbe' \(in G1\) has no"):
        parse_fim(_xdf3_group(no_field_id), "x.xml")


def test_entity_declarations_are_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<xdf:xdatenfelder.datenfeldgruppe.0103 xmlns:xdf="' + NS3.encode() + b'">&e;'
        b"</xdf:xdatenfelder.datenfeldgruppe.0103>"
    )
    with pytest.raises(FimImportError, match="refused: the file declares a DTD or entities"):
        parse_fim(xxe, "evil.xml")


def test_other_messages_and_bad_cardinalities_are_refused() -> None:
    wrong = f'<xdf:xdatenfelder.codeliste xmlns:xdf="{NS2}"/>'.encode()
    with pytest.raises(FimImportError, match="not a Stammdatenschema or Datenfeldgruppe"):
        parse_fim(wrong, "x.xml")
    bad = _xdf3_group(_SELECT).replace(b"<xdf:anzahl>1:1", b"<xdf:anzahl>viele")
    with pytest.raises(FimImportError, match=r"anzahl 'viele' .* is not 'min:max'"):
        parse_fim(bad, "x.xml")


def test_unreadable_file_and_empty_schema(tmp_path: Path) -> None:
    with pytest.raises(FimImportError, match="cannot read the file"):
        import_fim(tmp_path / "missing.xml")
    with pytest.raises(FimImportError, match="contains no input fields"):
        to_definition_yaml(parse_fim(_xdf3_group("")), slug="leer")


def test_identifiers_are_ascii_and_never_cel_keywords() -> None:
    assert identifier("Straße und Hausnummer") == "strasse_und_hausnummer"
    assert identifier("Größe Person") == "groesse_person"
    assert identifier("2. Vorname") == "f_2_vorname"
    assert identifier("in") == "in_"
