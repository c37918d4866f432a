"""The integrator guide's examples run: its worked example is a service that validates and
passes its own test cases, and every other YAML example is a valid part of a definition."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from backend.cases.service_tests import run_service_tests_sync
from backend.definitions.catalogue import Catalogue
from backend.definitions.loader import load_tree, validate_tree
from backend.definitions.models import ServiceDefinition
from backend.definitions.scaffold import scaffold_service
from backend.definitions.yaml_lines import load_yaml
from prefill.configuration import build_default_registry

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integrators.md"


def _blocks(language: str) -> list[tuple[int, str]]:
    """(line, text) of every fenced block of one language, in the guide's order."""
    text = GUIDE.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(rf"^```{language}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE):
        found.append((text[: match.start()].count("\n") + 1, match.group(1)))
    return found


def _yaml_blocks() -> list[tuple[int, Any]]:
    return [(line, load_yaml(text)) for line, text in _blocks("yaml")]


def test_the_guide_has_its_examples() -> None:
    assert len(_blocks("yaml")) >= 10 and len(_blocks("html")) == 1


def _section_type(name: str) -> Any:
    return ServiceDefinition.model_fields[name].annotation


@pytest.mark.parametrize(("line", "data"), _yaml_blocks(), ids=lambda v: str(v)[:12])
def test_every_yaml_example_is_a_valid_part_of_a_definition(line: int, data: Any) -> None:
    """A list is a list of fields; a mapping's keys are sections of service.yaml (or a test
    file's `cases`), each checked against the loader's own model of that section."""
    if data is None:  # the editor's modeline, a comment only
        return
    items = {"fields": data} if isinstance(data, list) else data
    assert isinstance(items, dict), f"docs/integrators.md:{line}"
    for section, value in items.items():
        if section == "cases":
            assert isinstance(value, list) and value, f"docs/integrators.md:{line}"
            continue
        assert section in ServiceDefinition.model_fields, f"docs/integrators.md:{line}: {section}"
        TypeAdapter(_section_type(section)).validate_python(value)


def test_the_worked_example_validates_and_passes_its_own_tests(tmp_path: Path) -> None:
    """Steps 3 to 8 put together on the scaffold of step 1, exactly as the guide shows them."""
    connectors = build_default_registry()
    folder = scaffold_service(tmp_path, "sondernutzung", today=date(2026, 3, 1)).folder
    shutil.rmtree(folder / "tests")
    definition = load_yaml((folder / "service.yaml").read_text(encoding="utf-8"))
    fields: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for _line, data in _yaml_blocks()[:8]:  # steps 3-8 of the worked example
        if isinstance(data, list):
            fields += data
        elif "cases" in data:
            cases = data["cases"]
        elif "register_facts" in (data.get("automation") or {}):
            continue  # a second service's policy, shown for its keys
        else:
            definition.update(data)
    definition["fields"] = fields
    definition.pop("topics", None)  # the scaffold's pages group its own fields, now replaced
    (folder / "service.yaml").write_text(
        yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    (folder / "templates" / "bescheid.html").write_text(_blocks("html")[0][1], encoding="utf-8")
    (folder / "tests").mkdir()
    (folder / "tests" / "cases.yaml").write_text(
        yaml.safe_dump({"cases": cases}, allow_unicode=True), encoding="utf-8"
    )
    assert validate_tree(tmp_path, connectors) == []
    loaded, _problems = load_tree(tmp_path, connectors)
    results = run_service_tests_sync(Catalogue(loaded), connectors, ["sondernutzung"])
    assert len(results) == len(cases) >= 2
    assert [(r.case.name, r.differences) for r in results if not r.passed] == []
