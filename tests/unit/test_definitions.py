"""The definition format, its loader's one-line problems, the catalogue and the JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from backend.definitions import (
    Catalogue,
    LoadedDefinition,
    definition_json_schema,
    load_catalogue,
    load_definition,
    validate_tree,
)
from backend.definitions.models import UndefinedParameter
from backend.errors import DefinitionError, NotFound
from prefill.configuration import build_default_registry
from prefill.connectors.base import (
    AttributeSpec,
    AttributeType,
    Connector,
    ConnectorConfig,
    NeedResult,
    Provenance,
    RegistryQuery,
    TrustLevel,
)
from prefill.connectors.registry import ConnectorRegistry

FIXTURES = Path(__file__).parent / "fixtures" / "definitions"
REPO = Path(__file__).parents[2]


class _RecordedRegistry(Connector):
    """Test double of the external registry contract: answers from a fixed record."""

    id: ClassVar[str] = "recorded"
    title: ClassVar[str] = "Recorded"
    identifier: ClassVar[str] = "idnr"
    record: ClassVar[dict[str, Any]] = {}
    types: ClassVar[dict[str, AttributeType]] = {}

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        return {
            name: AttributeSpec(name=name, type=cls.types.get(name, "string"))
            for name in cls.record
        }

    async def fetch(
        self, client: httpx.AsyncClient, config: ConnectorConfig, query: RegistryQuery
    ) -> dict[str, NeedResult]:
        provenance = Provenance(registry=self.id, as_of=datetime(2025, 1, 1, tzinfo=UTC))
        return {
            name: NeedResult(
                attribute=name, status="ok", value=self.record[name], provenance=provenance
            )
            for name in query.attributes
        }


class _Melderegister(_RecordedRegistry):
    id: ClassVar[str] = "melderegister"
    record: ClassVar[dict[str, Any]] = {
        "familienname": "Mustermann",
        "vornamen": "Erika",
        "geburtsdatum": "1964-08-12",
        "geburtsort": "Berlin",
        "anschrift.strasse": "Heidestraße",
        "anschrift.hausnummer": "17",
        "anschrift.plz": "51147",
        "anschrift.ort": "Köln",
        "einzugsdatum": "2001-04-01",
    }
    types: ClassVar[dict[str, AttributeType]] = {"geburtsdatum": "date", "einzugsdatum": "date"}


class _Steuerregister(_RecordedRegistry):
    id: ClassVar[str] = "steuerregister"
    min_trust_level: ClassVar[TrustLevel] = "hoch"
    record: ClassVar[dict[str, Any]] = {"einkommen": "23000.00"}
    types: ClassVar[dict[str, AttributeType]] = {"einkommen": "decimal"}


@pytest.fixture
def registry() -> ConnectorRegistry:
    connectors = ConnectorRegistry()
    connectors.register(_Melderegister)
    connectors.register(_Steuerregister)
    return connectors


@pytest.fixture
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the fixtures folder, so paths are given (and reported) relative."""
    monkeypatch.chdir(FIXTURES)
    return FIXTURES


def test_valid_fixtures_have_no_problems(registry: ConnectorRegistry, in_fixtures: Path) -> None:
    assert validate_tree(Path("valid"), registry) == []


def test_shipped_services_validate_against_the_real_connectors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    connectors = build_default_registry()
    assert validate_tree(Path("services"), connectors) == []

    definition = load_definition(Path("services/meldebescheinigung"), connectors)
    # Merge keys (<<: *melde) keep the anchor's keys and override only the attribute.
    sources = [field.source for field in definition.fields]
    assert all(source is not None for source in sources)
    assert [source.attribute for source in sources if source] == [
        "familienname",
        "vornamen",
        "geburtsdatum",
        "geburtsort",
        "anschrift.strasse",
        "anschrift.hausnummer",
        "anschrift.plz",
        "anschrift.ort",
        "einzugsdatum",
    ]
    assert {source.purpose for source in sources if source} == {
        "Ausstellung einer Meldebescheinigung"
    }
    # YAML 1.1 would read the key `on` as the boolean true.
    assert definition.documents[0].on == ["approved"]


PROBLEMS = {
    "invalid/unknown-connector": [
        "invalid/unknown-connector/service.yaml:16 fields[0].source.connector: "
        "unknown connector 'grundbuch' (registered: melderegister, steuerregister)",
    ],
    "invalid/unknown-attribute": [
        "invalid/unknown-attribute/service.yaml:14 fields[2].source.attribute: "
        "unknown attribute 'adresse.plz' of connector 'melderegister'",
    ],
    "invalid/bad-yaml": [
        "invalid/bad-yaml/service.yaml:13 (root): invalid YAML: expected <block end>, but found "
        "'<block mapping start>' (while parsing a block collection)",
    ],
    "invalid/missing-key": [
        "invalid/missing-key/service.yaml:13 rules[0].legal_reference: required key is missing",
        "invalid/missing-key/service.yaml:1 retention: required key is missing",
    ],
    "invalid/undefined-field": [
        "invalid/undefined-field/service.yaml:16 rules[0].condition: unknown field 'strase'",
    ],
    "invalid/missing-template": [
        "invalid/missing-template/service.yaml:15 documents[0].template: "
        "template 'templates/fehlt.html' not found in invalid/missing-template",
    ],
    "invalid/cel-problems": [
        "invalid/cel-problems/service.yaml:19 rules[0].condition: invalid CEL at 1:19: "
        "mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', "
        "'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
        "invalid/cel-problems/service.yaml:27 rules[1].expression: "
        "amount 'betrag' is not computed by an earlier rule or fee",
        "invalid/cel-problems/service.yaml:33 rules[2].expression: unknown parameter 'quote'",
        "invalid/cel-problems/service.yaml:33 rules[2].expression: unknown function 'runden'",
        "invalid/cel-problems/service.yaml:40 rules[3].rows[0].when: "
        "unknown name 'feilds' (in scope: fields, params, amounts, reference_date)",
        "invalid/cel-problems/service.yaml:44 fees[0].amount: "
        "amount 'gebuehr' is not computed by an earlier rule or fee",
    ],
    "invalid/typos": [
        "invalid/typos/service.yaml:22 fees[0].amount: duplicate key",
        "invalid/typos/service.yaml:11 fields[0].required: required key is missing",
        "invalid/typos/service.yaml:14 fields[0].requird: unknown key (check the spelling)",
        "invalid/typos/service.yaml:17 rules[0].kind: unknown kind 'ermessen' "
        "(expected one of: eligibility, calculation, decision_table)",
    ],
    # The duplicate takes its id from an anchor on line 11 but is written on line 13.
    "invalid/duplicates": [
        "invalid/duplicates/service.yaml:13 fields[2].id: duplicate id 'name' (first at fields[0])",
    ],
    "invalid/low-trust": [
        "invalid/low-trust/service.yaml:8 trust_level: trust level 'niedrig' is below 'hoch', "
        "which connector 'steuerregister' requires",
    ],
    "invalid/not-a-mapping": [
        "invalid/not-a-mapping/service.yaml:1 (root): "
        "a service definition must be a mapping of keys to values",
    ],
    "overlap": [
        "overlap/zuschuss-neu/service.yaml:1 id: "
        "id 'zuschuss' does not match the folder name 'zuschuss-neu'",
        "overlap/zuschuss-neu/service.yaml:3 valid_from: service 'zuschuss' is also defined in "
        "overlap/zuschuss/service.yaml for 2024-01-01 – open end; validity overlaps",
    ],
}


@pytest.mark.parametrize("where", sorted(PROBLEMS))
def test_each_problem_is_one_line_with_file_line_and_path(
    where: str, registry: ConnectorRegistry, in_fixtures: Path
) -> None:
    assert validate_tree(Path(where), registry) == PROBLEMS[where]


def test_validating_the_tree_reports_every_service(
    registry: ConnectorRegistry, in_fixtures: Path
) -> None:
    expected = [
        line for where in sorted(PROBLEMS) if where != "overlap" for line in PROBLEMS[where]
    ]
    assert validate_tree(Path("invalid"), registry) == expected


def test_load_raises_with_all_problems(registry: ConnectorRegistry, in_fixtures: Path) -> None:
    with pytest.raises(DefinitionError) as raised:
        load_definition(Path("invalid/missing-key/service.yaml"), registry)
    assert raised.value.problems == PROBLEMS["invalid/missing-key"]
    assert str(raised.value) == "\n".join(PROBLEMS["invalid/missing-key"])


def test_absolute_paths_are_reported_as_given(registry: ConnectorRegistry) -> None:
    folder = FIXTURES / "invalid" / "undefined-field"
    assert validate_tree(folder, registry) == [
        f"{folder.as_posix()}/service.yaml:16 rules[0].condition: unknown field 'strase'"
    ]


def _write_service(root: Path, slug: str, text: str) -> Path:
    folder = root / slug
    folder.mkdir()
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    return folder


def _undefined_field_with(condition: str) -> str:
    text = (FIXTURES / "invalid" / "undefined-field" / "service.yaml").read_text(encoding="utf-8")
    return text.replace("condition: \"fields.strase != ''\"", f"condition: {json.dumps(condition)}")


def test_cel_sources_are_bounded_in_length(
    registry: ConnectorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    at_limit = "fields.strasse != ''".ljust(2000)
    _write_service(tmp_path, "undefined-field", _undefined_field_with(at_limit))
    assert validate_tree(Path("undefined-field"), registry) == []

    (tmp_path / "undefined-field" / "service.yaml").write_text(
        _undefined_field_with(at_limit + " "), encoding="utf-8"
    )
    assert validate_tree(Path("undefined-field"), registry) == [
        "undefined-field/service.yaml:16 rules[0].condition: "
        "String should have at most 2000 characters"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "service.yaml:1 (root): the file is empty"),
        (
            "id: x\nversion: '1'\nvalid_from: 2024-13-01\n",
            "service.yaml:3 (root): invalid YAML: invalid date '2024-13-01': "
            "month must be in 1..12",
        ),
        (
            "id: x\n  sub: 1\n",
            "service.yaml:2 (root): invalid YAML: mapping values are not allowed here",
        ),
        ("id: !!python/object:os.system x\n", "service.yaml:1 (root): invalid YAML: "),
        ("a: 1\n---\nb: 2\n", "service.yaml:2 (root): invalid YAML: "),
    ],
)
def test_broken_files_never_raise(
    text: str,
    problem: str,
    registry: ConnectorRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("service.yaml").write_text(text, encoding="utf-8")
    problems = validate_tree(Path("service.yaml"), registry)
    assert len(problems) == 1
    assert problems[0].startswith(problem)
    assert "\n" not in problems[0]


def test_not_utf8_is_reported_at_its_line(registry: ConnectorRegistry, tmp_path: Path) -> None:
    file = tmp_path / "service.yaml"
    file.write_bytes(b"id: x\ntitle: Gro\xdfe\n")
    assert validate_tree(file, registry) == [
        f"{file.as_posix()}:2 (root): the file is not valid UTF-8"
    ]


def test_missing_paths_and_empty_dirs_are_problems(
    registry: ConnectorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("empty").mkdir()
    Path("services/leer").mkdir(parents=True)
    assert validate_tree(Path("nirgends"), registry) == [
        "nirgends:1 (root): no such file or directory"
    ]
    assert validate_tree(Path("empty"), registry) == [
        "empty:1 (root): no services found (expected <slug>/service.yaml)"
    ]
    assert validate_tree(Path("services"), registry) == [
        "services/leer:1 (root): folder has no service.yaml"
    ]


def test_merged_keys_report_the_entry_that_merges_them(
    registry: ConnectorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = (FIXTURES / "invalid" / "unknown-attribute" / "service.yaml").read_text(encoding="utf-8")
    # The anchor on line 11 now names an unknown connector; all three fields inherit it.
    _write_service(
        tmp_path, "unknown-attribute", text.replace("connector: melderegister", "connector: post")
    )
    assert validate_tree(Path("unknown-attribute"), registry) == [
        f"unknown-attribute/service.yaml:{line} fields[{index}].source.connector: "
        "unknown connector 'post' (registered: melderegister, steuerregister)"
        for index, line in ((0, 11), (1, 12), (2, 14))
    ]


def test_parameters_take_the_value_valid_on_the_day(registry: ConnectorRegistry) -> None:
    definition = load_definition(FIXTURES / "valid" / "gebuehrtest", registry)
    assert definition.parameter_value("gebuehr", date(2024, 1, 1)) == 30.0
    assert definition.parameter_value("gebuehr", date(2025, 12, 31)) == 30.0
    assert definition.parameter_value("gebuehr", date(2026, 1, 1)) == 36.0
    with pytest.raises(
        UndefinedParameter, match="no value on 2023-12-31; its first value applies from 2024-01-01"
    ):
        definition.parameter_value("gebuehr", date(2023, 12, 31))
    with pytest.raises(UndefinedParameter, match="has no parameter 'porto'"):
        definition.parameter_value("porto", date(2025, 1, 1))


def test_catalogue_looks_up_and_sorts_services(registry: ConnectorRegistry) -> None:
    catalogue = load_catalogue(FIXTURES / "valid", registry)
    assert len(catalogue) == 2
    assert "rechner" in catalogue
    assert catalogue.get("rechner").version == "0.3.0"
    assert catalogue.folder("gebuehrtest") == FIXTURES / "valid" / "gebuehrtest"
    # DIN 5007: "Äpfelzuschuss" sorts with A, before "Gebührentest".
    assert [service.id for service in catalogue.all()] == ["rechner", "gebuehrtest"]
    assert [service.id for service in catalogue.all("en")] == ["gebuehrtest", "rechner"]
    with pytest.raises(NotFound, match="Unknown service 'pass'") as raised:
        catalogue.get("pass")
    assert raised.value.status_code == 404
    with pytest.raises(NotFound):
        catalogue.folder("pass")


def test_catalogue_refuses_to_load_with_every_problem_named(
    registry: ConnectorRegistry, in_fixtures: Path
) -> None:
    with pytest.raises(DefinitionError) as raised:
        load_catalogue(Path("invalid"), registry)
    assert raised.value.problems == validate_tree(Path("invalid"), registry)
    assert {line.split("/")[1] for line in raised.value.problems} == {
        where.split("/")[1] for where in PROBLEMS if where.startswith("invalid/")
    }


def test_catalogue_rejects_the_same_slug_twice(registry: ConnectorRegistry) -> None:
    entries = load_catalogue(FIXTURES / "valid", registry)
    rechner = entries.get("rechner")
    entry = LoadedDefinition(rechner, FIXTURES / "valid" / "rechner" / "service.yaml")
    with pytest.raises(ValueError, match="twice"):
        Catalogue([entry, entry])


def _properties(node: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every (name, schema) of an object property anywhere in a JSON Schema."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, schema in (node.get("properties") or {}).items():
            found.append((name, schema))
        for value in node.values():
            found += _properties(value)
    elif isinstance(node, list):
        for item in node:
            found += _properties(item)
    return found


def test_json_schema_documents_every_key() -> None:
    schema = definition_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Knopfdruck service definition v1"
    assert schema["additionalProperties"] is False
    rules = schema["properties"]["rules"]["items"]
    assert rules["discriminator"]["propertyName"] == "kind"
    assert set(rules["discriminator"]["mapping"]) == {
        "eligibility",
        "calculation",
        "decision_table",
    }
    properties = _properties(schema)
    assert len(properties) > 60
    undocumented = [name for name, prop in properties if not prop.get("description")]
    assert undocumented == []
    json.dumps(schema)


def test_json_schema_lists_connectors_and_their_attributes() -> None:
    """Editors complete `source.attribute` from the schema (issue 15 item 6)."""
    import jsonschema

    schema = definition_json_schema(build_default_registry())
    sources = jsonschema.Draft202012Validator(schema["$defs"]["DataSource"])
    need = {"purpose": "Anschrift", "legal_basis": "§ 18 BMG"}
    assert "melderegister" in schema["$defs"]["DataSource"]["properties"]["connector"]["enum"]
    right = {**need, "connector": "melderegister", "attribute": "anschrift.plz"}
    assert list(sources.iter_errors(right)) == []
    wrong = {**need, "connector": "melderegister", "attribute": "nettoeinkommen.monate"}
    assert [e.validator for e in sources.iter_errors(wrong)] == ["enum"]
    unknown = {**need, "connector": "schufa", "attribute": "score"}
    assert [e.validator for e in sources.iter_errors(unknown)] == ["enum"]
    writes = jsonschema.Draft202012Validator(schema["$defs"]["Writeback"])
    bad_operation = {"connector": "parkausweisregister", "operation": "loeschen"}
    assert "enum" in [e.validator for e in writes.iter_errors(bad_operation)]
