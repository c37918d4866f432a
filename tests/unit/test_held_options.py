"""A choice among the citizen's own held records: definition checks and the offered answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backend.definitions import load_definition, validate_tree
from backend.definitions.answers import allowed_answers, coerce, held_options
from backend.definitions.models import Field
from prefill.configuration import build_default_registry

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "tests" / "fixtures" / "services" / "fahrzeugwahl" / "service.yaml"


def _definition_with(tmp_path: Path, **kennzeichen: object) -> list[str]:
    data = yaml.safe_load(SERVICE.read_text(encoding="utf-8"))
    field = next(f for f in data["fields"] if f["id"] == "kennzeichen")
    field.update(kennzeichen)
    for key, value in list(field.items()):
        if value is None:
            del field[key]
    folder = tmp_path / "fahrzeugwahl"
    folder.mkdir()
    (folder / "service.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return validate_tree(folder, build_default_registry())


def test_the_fixture_is_valid(tmp_path: Path) -> None:
    assert _definition_with(tmp_path) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"options_from": {"field": "fehlt", "value": "kennzeichen", "label": "{kennzeichen}"}},
            "unknown field 'fehlt'",
        ),
        (
            {"options_from": {"field": "kennzeichen", "value": "kennzeichen", "label": "x"}},
            "unknown field 'kennzeichen'",
        ),
        (
            {
                "options_from": {
                    "field": "fahrzeuge",
                    "value": "kennzeichen",
                    "label": "{kennzeichen.__class__}",
                }
            },
            "only plain {key} placeholders are allowed",
        ),
        (
            {"options_from": {"field": "fahrzeuge", "value": "kennzeichen", "label": "{0}"}},
            "only plain {key} placeholders are allowed",
        ),
        (
            {"options": [{"value": "a", "label": {"de": "A", "en": "A"}}]},
            "use either options or options_from, not both",
        ),
        ({"type": "string"}, "options_from is only allowed for type 'choice'"),
        ({"options_from": None}, "a choice field needs options or options_from"),
    ],
)
def test_broken_held_options_are_named(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    problems = _definition_with(tmp_path, **change)
    assert len(problems) == 1 and message in problems[0], problems
    assert "fields[1]" in problems[0]


def _field() -> Field:
    definition = load_definition(SERVICE, build_default_registry())
    return next(f for f in definition.fields if f.id == "kennzeichen")


def test_the_offered_answers_are_the_citizens_own_records() -> None:
    field = _field()
    prefill = {
        "fahrzeuge": {
            "status": "ok",
            "value": [
                {"kennzeichen": "K-PL 815", "marke": "Škoda"},
                {"kennzeichen": "K-PL 4410", "marke": None},
                {"marke": "ohne Kennzeichen"},
                "kein Datensatz",
            ],
        }
    }
    assert held_options(field, prefill) == [
        ("K-PL 815", "K-PL 815 (Škoda)"),
        ("K-PL 4410", "K-PL 4410 ()"),
    ]
    assert allowed_answers(field, prefill) == ["K-PL 815", "K-PL 4410"]
    assert coerce(field, "K-PL 815", allowed_answers(field, prefill)) == ("K-PL 815", None)
    value, problem = coerce(field, "K-XX 1", allowed_answers(field, prefill))
    assert value is None and problem is not None and problem.field == "kennzeichen"
    # A failed or missing list offers nothing, never someone else's records.
    assert held_options(field, {"fahrzeuge": {"status": "failed", "value": None}}) == []
    assert held_options(field, {}) == []
