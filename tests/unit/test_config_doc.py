"""docs/configuration.md is generated from the settings model and must match it exactly."""

from __future__ import annotations

from pathlib import Path

from backend.settings import Settings
from backend.settings_doc import configuration_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_committed_configuration_doc_equals_the_generated_text() -> None:
    committed = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    assert committed == configuration_markdown(), (
        "docs/configuration.md is stale: run `knopfdruck config-doc -o docs/configuration.md`"
    )


def test_every_setting_is_documented_with_a_meaning() -> None:
    text = configuration_markdown()
    for name, field in Settings.model_fields.items():
        assert f"`KNOPFDRUCK_{name.upper()}`" in text
        assert field.description, f"setting {name} has no description"


def test_defaults_are_written_as_an_operator_sets_them() -> None:
    rows = {
        line.split("|")[1].strip(): line
        for line in configuration_markdown().splitlines()
        if line.startswith("| `KNOPFDRUCK_")
    }
    assert "| `false` |" in rows["`KNOPFDRUCK_SANDBOX`"]  # production is the default
    assert "| (empty) |" in rows["`KNOPFDRUCK_DATABASE_URL`"]
    assert "`KNOPFDRUCK_SECRET_KEY`" not in rows  # removed: nothing used it
