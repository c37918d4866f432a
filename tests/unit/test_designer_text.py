"""The designer edits definitions in place: one value changes, every comment stays."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from backend.console.designer import (
    add_parameter_value,
    edit_value,
    editable_values,
    next_version,
    set_top_level,
    version_diff,
)
from backend.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
SONDER = """\
# Sondernutzung: comments must survive every edit.
id: sondernutzung
version: "1.0.0"
valid_from: 2026-01-01
title: { de: Sondernutzung, en: Special use }  # the catalogue's title
parameters:
  gebuehr:
    - { valid_from: 2026-01-01, value: 10.0, legal_reference: "Nr. 1" }  # fee per item
  frist: [ { valid_from: 2026-01-01, value: 5 } ]
rules:
  - id: gross
    kind: eligibility
    condition: "fields.anzahl <= 5"
    reason: { de: "Erlaubt.", en: "Permitted." }
"""


def test_a_value_is_replaced_and_nothing_else_changes() -> None:
    edited = edit_value(SONDER, ("title", "de"), 'Sondernutzung "Gehweg"', literal=False)
    assert edited.replace('"Sondernutzung \\"Gehweg\\""', "Sondernutzung") == SONDER
    assert yaml.safe_load(edited)["title"]["de"] == 'Sondernutzung "Gehweg"'
    number = edit_value(SONDER, ("parameters", "gebuehr", 0, "value"), "12.5", literal=True)
    assert "value: 12.5, legal_reference" in number and "# fee per item" in number
    with pytest.raises(InvalidInput, match="keine Zahl"):
        edit_value(SONDER, ("parameters", "gebuehr", 0, "value"), "zwölf", literal=True)
    with pytest.raises(InvalidInput, match="Kein Wert"):
        edit_value(SONDER, ("rules", 7, "condition"), "true", literal=False)


def test_a_dated_parameter_value_is_added_as_one_line() -> None:
    added = add_parameter_value(SONDER, "gebuehr", date(2027, 1, 1), "12.0", "Nr. 1 (2027)")
    assert (
        '    - { valid_from: 2027-01-01, value: 12.0, legal_reference: "Nr. 1 (2027)" }\n' in added
    )
    values = yaml.safe_load(added)["parameters"]["gebuehr"]
    assert [v["value"] for v in values] == [10.0, 12.0]
    assert "# fee per item" in added and added.startswith("# Sondernutzung")
    with pytest.raises(InvalidInput, match="Code-Ansicht"):
        add_parameter_value(SONDER, "frist", date(2027, 1, 1), "6", "")  # flow style
    with pytest.raises(InvalidInput, match="keine Zahl"):
        add_parameter_value(SONDER, "gebuehr", date(2027, 1, 1), "zwölf", "")


def test_top_level_lines_are_set_removed_and_inserted() -> None:
    bumped = set_top_level(SONDER, "version", '"1.1.0"')
    assert 'version: "1.1.0"\n' in bumped and bumped.count("version:") == 1
    ended = set_top_level(SONDER, "valid_until", "2026-12-31", after="valid_from")
    assert "valid_from: 2026-01-01\nvalid_until: 2026-12-31\n" in ended
    assert set_top_level(ended, "valid_until", None) == SONDER


def test_the_form_offers_texts_parameters_and_rules() -> None:
    labels = {v.label: v for v in editable_values(SONDER)}
    assert labels["Titel (de)"].value == "Sondernutzung"
    assert labels["Parameter gebuehr, ab 2026-01-01"].literal
    assert labels["Regel gross: Bedingung"].path == ("rules", 0, "condition")
    assert labels["Regel gross: Begründung (en)"].value == "Permitted."


def test_the_version_diff_names_what_changed() -> None:
    after = add_parameter_value(SONDER, "gebuehr", date(2027, 1, 1), "12.0", "")
    after = edit_value(after, ("rules", 0, "condition"), "fields.anzahl <= 6", literal=False)
    rows = {(r.section, r.key, r.change) for r in version_diff(SONDER, after)}
    assert rows == {("parameters", "gebuehr", "changed"), ("rules", "gross", "changed")}
    assert version_diff(SONDER, SONDER) == []


def test_next_version_steps_the_minor_number() -> None:
    assert next_version(["1.0.0", "2.0.0"]) == "2.1.0"
    assert next_version(["2026.1"]) == "2026.2.0"
    assert next_version([]) == "0.1.0"


def test_every_shipped_definition_offers_its_values() -> None:
    for file in sorted((ROOT / "services").glob("*/service.yaml")):
        text = file.read_text(encoding="utf-8")
        values = editable_values(text)
        # Block scalars (descriptions) and numbers are the delicate cases; then a sample.
        picked = [v for v in values if v.multiline or v.literal][:12] + values[:8]
        for value in picked:
            # Writing a value back unchanged leaves the file's meaning as it was.
            again = edit_value(text, value.path, value.value, literal=value.literal)
            assert yaml.safe_load(again) == yaml.safe_load(text), (file, value.path)
