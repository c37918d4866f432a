"""The designer's structured forms write the YAML a person would: only their own lines change,
comments stay, and what they write validates (backend/console/designer_forms.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from backend.console import designer_forms as forms
from backend.definitions.catalogue import load_catalogue
from backend.definitions.scaffold import LISTING_NOTICE_TEMPLATE, scaffold_files
from backend.errors import InvalidInput
from prefill.configuration import build_default_registry

CONNECTORS = build_default_registry()
FLAECHE = {
    "id": "flaeche_qm",
    "type": "decimal",
    "label_de": "Fläche in Quadratmetern",
    "label_en": "Area in square metres",
    "required": "yes",
    "max": "100",
}
KLEIN = {
    "id": "klein_genug",
    "kind": "eligibility",
    "legal_reference": "§ 3 Sondernutzungssatzung",
    "condition": "fields.flaeche_qm <= 20.0",
    "otherwise": "refer",
    "reason_de": "Die Fläche ist klein genug.",
    "reason_en": "The area is small enough.",
    "reason_otherwise_de": "Die Fläche ist größer als 20 m²: eine Sachbearbeiterin prüft.",
    "reason_otherwise_en": "The area exceeds 20 m²: a clerk will check.",
}


def _scaffold() -> str:
    return scaffold_files("sondernutzung", today=date(2026, 12, 5))["service.yaml"]


def _valid(text: str, tmp_path: Path) -> None:
    """The text as a service folder loads without a problem."""
    folder = tmp_path / "services" / "sondernutzung"
    files = scaffold_files("sondernutzung", today=date(2026, 12, 5))
    for relative, content in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(content, encoding="utf-8")
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    # The designer gives a new service the notice that lists the application as given.
    (folder / "templates" / "bescheid.html").write_text(LISTING_NOTICE_TEMPLATE, encoding="utf-8")
    load_catalogue(tmp_path / "services", CONNECTORS)


def test_a_field_and_a_rule_are_added_below_the_others_with_comments_kept() -> None:
    text = forms.append_item(_scaffold(), "fields", forms.field_item(FLAECHE, CONNECTORS))
    text = forms.append_item(text, "rules", forms.rule_item(KLEIN))
    data = yaml.safe_load(text)
    assert data["fields"][-1] == {
        "id": "flaeche_qm",
        "type": "decimal",
        "label": {"de": "Fläche in Quadratmetern", "en": "Area in square metres"},
        "required": True,
        "max": 100.0,
    }
    assert data["rules"][-1]["condition"] == "fields.flaeche_qm <= 20.0"
    assert data["rules"][-1]["otherwise"] == "refer"
    # Everything the scaffold said is still there, comments included.
    for line in _scaffold().splitlines():
        assert line in text.splitlines()
    assert "  - id: flaeche_qm\n    type: decimal\n" in text


def test_a_held_field_names_register_purpose_and_legal_basis_and_takes_its_type() -> None:
    form = {
        "id": "wohnort",
        "label_de": "Wohnort",
        "label_en": "Place of residence",
        "required": "yes",
        "source": "melderegister.anschrift.ort",
        "purpose": "Zuständigkeit prüfen",
        "legal_basis": "§ 34 Abs. 1 BMG",
    }
    item = forms.field_item(form, CONNECTORS)
    assert item["type"] == "string"
    assert item["source"] == {
        "connector": "melderegister",
        "attribute": "anschrift.ort",
        "purpose": "Zuständigkeit prüfen",
        "legal_basis": "§ 34 Abs. 1 BMG",
    }
    with pytest.raises(InvalidInput, match="Zweck"):
        forms.field_item({**form, "purpose": ""}, CONNECTORS)
    with pytest.raises(InvalidInput, match="kann das nicht"):
        forms.field_item({**form, "type": "integer"}, CONNECTORS)
    with pytest.raises(InvalidInput, match="Register-Merkmal"):
        forms.field_item({**form, "source": "melderegister.nichts"}, CONNECTORS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "Fläche"}, "Kleinbuchstaben"),
        ({"label_en": ""}, "Deutsch und Englisch"),
        ({"type": "file"}, "Feldtyp"),
        ({"max": "viel"}, "keine Zahl"),
        ({"type": "choice", "options": "a | nur deutsch"}, "Zeile 1"),
    ],
)
def test_a_field_form_refuses_what_it_cannot_write(change: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        forms.field_item({**FLAECHE, **change}, CONNECTORS)


def test_a_choice_field_takes_its_options_one_per_line() -> None:
    item = forms.field_item(
        {**FLAECHE, "id": "art", "type": "choice", "options": "tisch | Tische | Tables\n"
         "stand | Verkaufsstand | Stall"},
        CONNECTORS,
    )  # fmt: skip
    assert item["options"][1] == {"value": "stand", "label": {"de": "Verkaufsstand", "en": "Stall"}}


def test_removing_an_item_takes_its_comment_and_an_emptied_list_stays_a_list() -> None:
    text = forms.remove_item(_scaffold(), "fields", "exemplare")
    assert "exemplare" not in yaml.safe_load(text)["fields"].__repr__()
    assert "# Asked: only what no registry knows." not in text
    assert "# Held data: read from a registry" in text
    text = forms.remove_item(text, "fees", "gebuehr")
    assert "\nfees: []\n" in text
    text = forms.append_item(
        text,
        "fees",
        forms.fee_item(
            {"id": "gebuehr", "amount": "25,50", "legal_reference": "Tarif Nr. 2",
             "label_de": "Gebühr", "label_en": "Fee"}
        ),
    )  # fmt: skip
    assert yaml.safe_load(text)["fees"] == [
        {
            "id": "gebuehr",
            "amount": 25.5,
            "legal_reference": "Tarif Nr. 2",
            "label": {"de": "Gebühr", "en": "Fee"},
        }
    ]


def test_an_anchored_item_and_an_unknown_one_are_refused() -> None:
    # familienname carries the &melde anchor the other held fields merge.
    with pytest.raises(InvalidInput, match="Code-Ansicht"):
        forms.remove_item(_scaffold(), "fields", "familienname")
    with pytest.raises(InvalidInput, match="gibt es in fields nicht"):
        forms.remove_item(_scaffold(), "fields", "nichts")
    with pytest.raises(InvalidInput, match="schon"):
        forms.append_item(
            _scaffold(), "fields", forms.field_item({**FLAECHE, "id": "exemplare"}, CONNECTORS)
        )


def test_a_new_parameter_is_a_list_a_dated_value_can_be_added_to() -> None:
    from backend.console.designer import add_parameter_value

    text = forms.add_parameter(_scaffold(), "hoechstflaeche", date(2026, 1, 1), "20", "§ 3")
    text = add_parameter_value(text, "hoechstflaeche", date(2027, 1, 1), "25", "§ 3 (neu)")
    assert yaml.safe_load(text)["parameters"]["hoechstflaeche"] == [
        {"valid_from": date(2026, 1, 1), "value": 20, "legal_reference": "§ 3"},
        {"valid_from": date(2027, 1, 1), "value": 25, "legal_reference": "§ 3 (neu)"},
    ]
    with pytest.raises(InvalidInput, match="gibt es schon"):
        forms.add_parameter(text, "hoechstflaeche", date(2027, 1, 1), "1", "")


def test_remedy_and_automation_forms_replace_their_blocks(tmp_path: Path) -> None:
    text = forms.set_procedure(
        _scaffold(),
        {
            "regime": "vwgo_klage",
            "procedure_legal_basis": "§ 110 Abs. 1 JustG NRW",
            "authority_name": "Stadt Köln – Amt für Straßen",
            "authority_at": "bei der Stadt Köln, Amt für Straßen",
            "authority_address": "Willy-Brandt-Platz 2, 50679 Köln",
            "court_name": "Verwaltungsgericht Köln",
            "court_at": "beim Verwaltungsgericht Köln",
            "court_address": "Appellhofplatz, 50667 Köln",
        },
    )
    with pytest.raises(InvalidInput, match="Stichprobe"):
        forms.set_automation(text, "", ["remark", "rule_referred", "qa_sample"])
    text = forms.set_automation(text, "", ["qa_sample", "remark", "rule_referred"], "5")
    data = yaml.safe_load(text)
    assert data["procedure"]["court"]["name"] == "Verwaltungsgericht Köln"
    # The letterhead names the remedy's authority, never the platform's default.
    assert data["authority"] == "Stadt Köln – Amt für Straßen"
    assert data["automation"] == {
        "referral_triggers": ["remark", "rule_referred", "qa_sample"],
        "qa_sample_rate": 0.05,
    }
    assert forms.automation_values(data) == {
        "legal_basis": "",
        "triggers": ["remark", "rule_referred", "qa_sample"],
        "sample_percent": "5",
    }
    assert forms.procedure_values(data)["authority_at"] == "bei der Stadt Köln, Amt für Straßen"
    # The comment above the block stays; the block itself is one unit.
    assert "# The remedy the notice names" in text
    _valid(text, tmp_path)
    with pytest.raises(InvalidInput, match="Gericht"):
        forms.set_procedure(_scaffold(), {**forms.procedure_values(data), "court_name": ""})


def test_everything_a_designer_adds_validates(tmp_path: Path) -> None:
    text = forms.remove_item(_scaffold(), "fields", "exemplare")
    for rule in ("mindestens_eine_ausfertigung", "uebliche_anzahl", "gebuehr_berechnen"):
        text = forms.remove_item(text, "rules", rule)
    text = forms.remove_item(text, "fees", "gebuehr")
    text = forms.append_item(text, "fields", forms.field_item(FLAECHE, CONNECTORS))
    text = forms.append_item(text, "rules", forms.rule_item(KLEIN))
    text = forms.append_item(
        text,
        "rules",
        forms.rule_item(
            {"id": "gebuehr_berechnen", "kind": "calculation", "legal_reference": "Tarif",
             "output": "gebuehr_gesamt", "expression": "fields.flaeche_qm * params.satz",
             "rounding": "cents_half_up", "reason_de": "Die Gebühr beträgt {amount} Euro.",
             "reason_en": "The fee is {amount} euros."}
        ),
    )  # fmt: skip
    text = forms.add_parameter(text, "satz", date(2026, 1, 1), "2,50", "Tarif Nr. 1")
    text = forms.append_item(
        text,
        "fees",
        forms.fee_item(
            {"id": "gebuehr", "amount": "amounts.gebuehr_gesamt", "legal_reference": "Tarif",
             "label_de": "Sondernutzungsgebühr", "label_en": "Special use fee"}
        ),
    )  # fmt: skip
    _valid(text, tmp_path)
