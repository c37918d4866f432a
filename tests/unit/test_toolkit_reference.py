"""The format reference in docs/ is generated from the models and must be current."""

from __future__ import annotations

from pathlib import Path

from backend.definitions.models import ServiceDefinition
from backend.definitions.reference import format_reference

REFERENCE = Path(__file__).parents[2] / "docs" / "integrators-reference.md"


def test_committed_reference_matches_the_models() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == format_reference(), (
        "docs/integrators-reference.md is stale: run `knopfdruck services reference`"
    )


def test_reference_documents_every_key_of_the_definition() -> None:
    text = format_reference()
    for name in ServiceDefinition.model_fields:
        assert f"| `{name}` |" in text
    for model in ("Field", "DataSource", "EligibilityRule", "DecisionTableRule", "Writeback"):
        assert f"## {model}\n" in text
