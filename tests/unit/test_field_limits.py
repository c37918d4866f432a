"""Length limits of text fields: declared, defaulted, and taken from the register written to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from backend.cases.submission import answers_out_of_limits
from backend.definitions import load_definition
from backend.definitions.answers import coerce
from backend.definitions.limits import concatenation, effective_max_length
from backend.definitions.loader import check_tree
from backend.definitions.models import Field
from backend.records.models import Application
from prefill.configuration import build_default_registry
from prefill.connectors.dogtax_register import DogTaxRegisterConnector
from prefill.connectors.permit_register import PermitRegisterConnector
from prefill.connectors.registry import ConnectorRegistry
from sandbox.registries.dogtax_register import Hundeanmeldung
from sandbox.registries.permit_register import Parkausweis

HEAD = """\
id: demo
version: "1.0.0"
valid_from: 2024-01-01
leika: "99000000000001"
title: { de: Demo, en: Demo }
description: { de: Demo., en: Demo. }
department: test
trust_level: substanziell
legal_basis: "§ 1 Testsatzung"
retention: { days: 30, legal_basis: "Test" }
fields:
  - id: name
    type: string
    label: { de: Name, en: Name }
    required: true{name_limit}
  - id: kennzeichen
    type: string
    label: { de: Kennzeichen, en: Plate }
    required: true{plate_limit}
writeback:
  - connector: parkausweisregister
    operation: ausweis_eintragen
    on: [approved]
    purpose: Eintragung
    legal_basis: "§ 3"
    record:
      kennzeichen: "fields.kennzeichen"
      inhaber: "{inhaber}"
      aktenzeichen: "reference"
"""


@pytest.fixture
def connectors() -> ConnectorRegistry:
    return build_default_registry()


def _service(
    tmp_path: Path,
    *,
    name_limit: str = "",
    plate_limit: str = "",
    inhaber: str = "fields.name",
) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir(parents=True)
    text = (
        HEAD.replace("{name_limit}", name_limit)
        .replace("{plate_limit}", plate_limit)
        .replace("{inhaber}", inhaber)
    )
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    return folder / "service.yaml"


def _field(**values: Any) -> Field:
    return Field.model_validate(
        {"id": "hundename", "label": {"de": "Name des Hundes", "en": "Name of the dog"}}
        | {"type": "string", "required": True}
        | values
    )


@pytest.mark.parametrize(
    ("declared", "register", "default", "effective"),
    [
        (None, None, 300, 300),  # nothing declared: the platform's cap, never unbounded
        (80, None, 300, 80),  # declared and not written back
        (None, 60, 300, 60),  # the register's limit is adopted
        (40, 60, 300, 40),  # a stricter definition stays stricter
        (60, 60, 300, 60),
        (None, 5000, 300, 300),  # a generous register does not lift the platform's cap
        (800, 5000, 300, 800),
    ],
)
def test_the_effective_limit_is_the_smaller_of_the_definitions_and_the_registers(
    declared: int | None, register: int | None, default: int, effective: int
) -> None:
    assert effective_max_length(declared, register, default) == effective


def test_a_field_copied_into_a_register_attribute_takes_the_registers_limit(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _service(tmp_path, name_limit="\n    max_length: 150")
    definition = load_definition(file, connectors)
    by_id = {field.id: field for field in definition.fields}
    assert by_id["kennzeichen"].max_length == 12  # Parkausweisregister, kennzeichen
    assert by_id["name"].max_length == 150  # fits the register's 200 for inhaber
    assert check_tree(file, connectors) == ([], [])


def test_declaring_more_than_the_register_stores_is_an_error_at_the_fields_line(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _service(
        tmp_path, name_limit="\n    max_length: 150", plate_limit="\n    max_length: 40"
    )
    problems, _warnings = check_tree(file, connectors)
    assert problems == [
        f"{file.as_posix()}:21 fields[1].max_length: max_length 40 is more than the 12 characters "
        "the Parkausweisregister stores at writeback[0].record.kennzeichen"
    ]


def test_a_written_back_field_without_any_limit_is_a_warning_not_an_error(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _service(tmp_path, inhaber="string(fields.name)")
    problems, warnings = check_tree(file, connectors)
    assert problems == []
    assert warnings == [
        f"{file.as_posix()}:28 writeback[0].record.inhaber: warning: field 'name' is written to "
        "the register but has no length limit from the definition or the register; "
        "declare max_length"
    ]


def test_a_joined_entry_that_can_outgrow_the_register_is_a_warning(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    file = _service(tmp_path, inhaber="fields.name + ' ' + fields.kennzeichen")
    assert check_tree(file, connectors)[1] == [
        f"{file.as_posix()}:28 writeback[0].record.inhaber: warning: this entry can be 313 "
        "characters long, the register stores 200; declare max_length on the fields it joins"
    ]
    fixed = _service(
        tmp_path / "fixed",
        name_limit="\n    max_length: 150",
        inhaber="fields.name + ' ' + fields.kennzeichen",
    )
    assert check_tree(fixed, connectors) == ([], [])


def test_concatenations_are_read_as_fields_and_literal_lengths() -> None:
    assert concatenation("fields.a + ', ' + fields.b") == ["a", 2, "b"]
    assert concatenation('fields.a+"x"') == ["a", 1]
    assert concatenation("fields.a") == ["a"]
    assert concatenation("string(fields.a)") is None
    assert concatenation("fields.a + size(fields.b)") is None


def test_intake_refuses_too_long_and_too_short_answers_naming_field_and_limit() -> None:
    field = _field(max_length=60, min_length=2)
    assert coerce(field, "B" * 60) == ("B" * 60, None)
    assert coerce(field, "  Bello  ") == ("Bello", None)  # counted after trimming
    _value, problem = coerce(field, "B" * 61)
    assert problem is not None and problem.field == "hundename"
    assert problem.de == "Name des Hundes darf höchstens 60 Zeichen lang sein (jetzt 61)."
    assert problem.en == "Name of the dog must be 60 characters or fewer (now 61)."
    _value, problem = coerce(field, "B")
    assert problem is not None
    assert problem.en == "Name of the dog must be 2 characters or more."


def test_every_text_field_is_capped_even_without_a_declared_limit() -> None:
    assert _field().length_limit == 300
    assert _field(type="text").length_limit == 2000
    assert _field(type="email").length_limit == 254
    assert _field(type="date").length_limit is None
    _value, problem = coerce(_field(type="text"), "x" * 2001)
    assert problem is not None and "2000" in problem.en


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"type": "date", "max_length": 10}, "max_length is only allowed for types"),
        ({"max_length": 1001}, "a string field takes at most 1000 characters"),
        ({"max_length": 5, "min_length": 6}, "min_length is above the field's max_length (5)"),
    ],
)
def test_limits_that_cannot_work_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _field(**values)


@pytest.mark.parametrize(
    ("connector", "entry"),
    [(DogTaxRegisterConnector, Hundeanmeldung), (PermitRegisterConnector, Parkausweis)],
)
def test_the_connectors_declared_limits_are_what_the_sandbox_register_enforces(
    connector: Any, entry: Any
) -> None:
    [operation] = connector.write_operations
    schema = entry.model_json_schema()["properties"]
    enforced = {key: p["maxLength"] for key, p in schema.items() if "maxLength" in p}
    assert connector.write_limits[operation] == enforced


def test_submit_refuses_a_stored_answer_that_a_narrower_limit_no_longer_takes(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    """A draft saved under an older definition meets the current limits when it is sent."""
    definition = load_definition(_service(tmp_path), connectors)
    application = Application(
        service="demo",
        service_version="1.0.0",
        citizen_sub="x",
        answers={"kennzeichen": "K-AB 12345678", "name": "Erika"},
        prefill={"name": {"status": "ok", "value": "N" * 400}},
    )
    [problem] = answers_out_of_limits(definition, application)
    assert problem.field == "kennzeichen"  # 12 characters are stored; held values are not typed
    assert problem.en == "Plate must be 12 characters or fewer (now 13)."
