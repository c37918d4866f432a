"""Write-backs and handovers in service.yaml: the loader's checks and the record evaluation."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from backend.cases.writeback import _RecordProblem, build_record, planned_writebacks, writeback_key
from backend.definitions import load_definition, validate_tree
from backend.records.models import Case
from prefill.configuration import build_default_registry
from prefill.connectors.registry import ConnectorRegistry

ROOT = Path(__file__).parents[2]
FIXTURE_SERVICES = ROOT / "tests" / "fixtures" / "services"

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
fields:
  - id: name
    type: string
    label: { de: Name, en: Name }
    required: true
  - id: kennzeichen
    type: string
    label: { de: Kennzeichen, en: Plate }
    required: true
parameters:
  monate:
    - { valid_from: 2024-01-01, value: 12 }
rules:
  - id: gebuehr
    kind: calculation
    legal_reference: "§ 2"
    output: gebuehr
    expression: "30.0"
    reason: { de: "Gebühr {amount}", en: "Fee {amount}" }
retention: { days: 30, legal_basis: "Test" }
"""

WRITEBACK = """\
writeback:
  - connector: {connector}
    operation: {operation}
    on: [approved]
    purpose: Eintragung
    legal_basis: "§ 3"
    record:
      kennzeichen: "{expression}"
      aktenzeichen: "reference"
"""


@pytest.fixture
def connectors() -> ConnectorRegistry:
    return build_default_registry()


def _service(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    return folder


def _problems(tmp_path: Path, connectors: ConnectorRegistry, tail: str) -> list[str]:
    folder = _service(tmp_path, HEAD + textwrap.dedent(tail))
    prefix = f"{(folder / 'service.yaml').as_posix()}:"
    return [p.removeprefix(prefix) for p in validate_tree(folder, connectors)]


def _writeback(
    connector: str = "parkausweisregister",
    operation: str = "ausweis_eintragen",
    expression: str = "fields.kennzeichen",
) -> str:
    return WRITEBACK.format(connector=connector, operation=operation, expression=expression)


def test_the_test_services_with_writeback_and_handover_are_valid(
    connectors: ConnectorRegistry,
) -> None:
    assert validate_tree(FIXTURE_SERVICES, connectors) == []
    dogs = load_definition(FIXTURE_SERVICES / "hundeanmeldung", connectors)
    assert [(w.connector, w.operation, w.on) for w in dogs.writeback] == [
        ("hundesteuerregister", "hund_anmelden", ["approved"])
    ]
    external = load_definition(FIXTURE_SERVICES / "sondernutzung-extern", connectors)
    assert external.processing == "external"
    assert external.handover is not None
    assert external.handover.destination == "d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51"


def test_a_valid_writeback_has_no_problems(tmp_path: Path, connectors: ConnectorRegistry) -> None:
    assert _problems(tmp_path, connectors, _writeback()) == []


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            _writeback(connector="grundbuch"),
            "31 writeback[0].connector: unknown connector 'grundbuch' (registered: ",
        ),
        (
            _writeback(connector="melderegister"),
            "31 writeback[0].connector: connector 'melderegister' does not accept writes",
        ),
        (
            _writeback(operation="ausweis_loeschen"),
            "32 writeback[0].operation: unknown operation 'ausweis_loeschen' of connector "
            "'parkausweisregister' (offers: ausweis_eintragen)",
        ),
        (
            _writeback(expression="fields.kennzeichen +"),
            "37 writeback[0].record.kennzeichen: invalid CEL at 1:21: mismatched input '<EOF>'",
        ),
        (
            _writeback(expression="fields.kennzeichn"),
            "37 writeback[0].record.kennzeichen: unknown field 'kennzeichn'",
        ),
        (
            _writeback(expression="amounts.steuer"),
            "37 writeback[0].record.kennzeichen: "
            "amount 'steuer' is not computed by an earlier rule or fee",
        ),
        (
            _writeback(expression="aktenzeichen"),
            "37 writeback[0].record.kennzeichen: unknown name 'aktenzeichen' "
            "(in scope: fields, params, amounts, reference_date, reference)",
        ),
    ],
    ids=["unknown-connector", "read-only", "operation", "cel", "field", "amount", "name"],
)
def test_writeback_problems_name_line_and_path(
    tmp_path: Path, connectors: ConnectorRegistry, tail: str, expected: str
) -> None:
    problems = _problems(tmp_path, connectors, tail)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_a_writeback_cannot_follow_a_referral(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    tail = _writeback().replace("on: [approved]", "on: [referred]")
    problems = _problems(tmp_path, connectors, tail)
    assert problems == ["33 writeback[0].on[0]: Input should be 'approved' or 'rejected'"]


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("processing: external\n", "30 processing: processing: external needs a handover"),
        (
            "handover: { destination: d7c1a5e2-4b3f-4e8a-9c6d-0f1e2a3b4c51 }\n",
            "30 handover: a handover is only used with processing: external",
        ),
        (
            "processing: external\nhandover: { destination: fv-x }\n" + _writeback(),
            "32 writeback: the Fachverfahren decides external cases",
        ),
        (
            "processing: external\nhandover: { destination: Tiefbauamt }\n",
            "31 handover.destination: String should match pattern",
        ),
    ],
    ids=["no-destination", "not-external", "external-writes", "bad-destination"],
)
def test_handover_and_processing_must_agree(
    tmp_path: Path, connectors: ConnectorRegistry, tail: str, expected: str
) -> None:
    problems = _problems(tmp_path, connectors, tail)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def _case(values: dict[str, object], amounts: dict[str, str]) -> Case:
    return Case(
        id="c" * 32,
        reference="KD-2026-ABCD-EFGH",
        application_id="a" * 32,
        service="demo",
        service_version="1.0.0",
        department="test",
        citizen_sub="sub",
        status="processing",
        reference_date=date(2026, 3, 1),
        data={"values": values},
        decision={"amounts": amounts, "categories": {"zone": "P-1"}},
        outcome="approved",
    )


def test_a_record_is_built_from_fields_params_amounts_and_the_reference(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    tail = _writeback(expression="fields.kennzeichen") + (
        "      inhaber: \"fields.name + ' (' + string(params.monate) + ')'\"\n"
        '      betrag: "amounts.gebuehr * 2.0"\n'
        '      ab: "reference_date"\n'
    )
    folder = _service(tmp_path, HEAD + tail)
    definition = load_definition(folder, connectors)
    case = _case({"name": "Erika", "kennzeichen": "K-EM 1964", "notiz": None}, {"gebuehr": "30.00"})
    record = build_record(definition.writeback[0], definition, case)
    assert record == {
        "kennzeichen": "K-EM 1964",
        "aktenzeichen": "KD-2026-ABCD-EFGH",
        "inhaber": "Erika (12)",
        "betrag": 60.0,
        "ab": "2026-03-01",
    }
    assert planned_writebacks(definition, "approved") == [0]
    assert planned_writebacks(definition, "rejected") == []
    assert writeback_key(case.id, 0) == f"case-{case.id}:writeback:0"


def test_a_record_that_cannot_be_built_names_the_field(
    tmp_path: Path, connectors: ConnectorRegistry
) -> None:
    folder = _service(tmp_path, HEAD + _writeback(expression="fields.kennzeichen"))
    definition = load_definition(folder, connectors)
    # The optional value is absent, as in the rules: reading it is a runtime error.
    case = _case({"name": "Erika"}, {"gebuehr": "30.00"})
    with pytest.raises(_RecordProblem, match="record field 'kennzeichen'"):
        build_record(definition.writeback[0], definition, case)
