"""The operator's legal config: checked like a definition, with file:line for every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.definitions.catalogue import load_catalogue
from backend.definitions.portal import load_portal_config, missing_authorities
from backend.errors import DefinitionError
from backend.legal.privacy import controllers
from backend.settings import Settings
from frontend.rendering import hyphenate
from prefill.configuration import build_default_registry

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "portal.yaml"


def test_the_shipped_config_is_valid_and_covers_every_shipped_authority() -> None:
    config = load_portal_config(SHIPPED)
    connectors = build_default_registry()
    catalogue = load_catalogue(ROOT / "services", connectors)
    assert missing_authorities(config, catalogue.all(), "Stadt Köln") == []
    assert config.sign_language_videos == []  # none shipped; the page says so
    fixtures = load_catalogue(ROOT / "tests/fixtures/services", connectors)
    warnings = missing_authorities(config, fixtures.all(), "Stadt Köln")
    assert any("Stadt Teststadt – Mobilitätsamt" in w for w in warnings), warnings


def test_a_broken_config_is_refused_with_file_and_line(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    broken = tmp_path / "portal.yaml"
    broken.write_text(text.replace("status: partial", "status: mostly"), encoding="utf-8")
    with pytest.raises(DefinitionError) as raised:
        load_portal_config(broken)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "status: partial" in t)
    assert raised.value.problems[0].startswith(f"{broken.as_posix()}:{line} accessibility.status")
    broken.write_text(text.replace('  represented_by: "die Oberb', '  vertreten: "die Oberb', 1))
    with pytest.raises(DefinitionError) as raised:
        load_portal_config(broken)
    assert any("unknown key" in p for p in raised.value.problems), raised.value.problems
    broken.write_text("operator: [\n")
    with pytest.raises(DefinitionError, match="invalid YAML"):
        load_portal_config(broken)


def test_privacy_facts_come_from_the_definitions() -> None:
    config = load_portal_config(SHIPPED)
    connectors = build_default_registry()
    catalogue = load_catalogue(ROOT / "services", connectors)
    settings = Settings(_env_file=None)
    found = {a.name: a for a in controllers(catalogue.all(), config, connectors, settings)}
    steueramt = found["Stadt Köln – Kämmerei, Steueramt"]
    dog = next(s for s in steueramt.services if s.id == "hundesteuer-anmeldung")
    definition = catalogue.get("hundesteuer-anmeldung")
    assert dog.retention_days == definition.retention.days
    assert {r.register for r in dog.reads} >= {"Melderegister"}
    assert [r.name for r in dog.recipients if r.kind == "register"] == ["Hundesteuerregister"]
    familienkasse = found["Familienkasse Nordrhein-Westfalen West"]
    assert "Bundesbeauftragte" in familienkasse.supervisor(config).name
    assert familienkasse.officer(config).name.endswith("Bundesagentur für Arbeit")


def test_long_words_break_at_syllables_not_mid_syllable() -> None:
    assert hyphenate("Anwohnerparkausweis", "de").split("\u00ad") == [
        "Anwoh",
        "ner",
        "parkaus",
        "weis",
    ]
    assert hyphenate("Hund anmelden", "de") == "Hund anmelden"  # short words stay whole
