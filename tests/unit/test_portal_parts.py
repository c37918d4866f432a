"""The portal's pure parts: search, formatting, parsing typed values, file checks, page order,
and the definition fields the portal reads (topics, uploads, keywords)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from backend.cases.catalogue_views import fee_today, service_view
from backend.cases.drafts import DraftState
from backend.cases.views import (
    ApplicationView,
    FieldView,
    SourceView,
    Text,
)
from backend.definitions.display import display_value
from backend.definitions.models import ServiceDefinition
from backend.definitions.yaml_lines import _DefinitionYamlLoader
from backend.uploads.files import display_name, download_name, sniff_media_type
from frontend import flow
from frontend.catalogue import by_life_situation, search
from frontend.pages_application import normalise_amount, parse_date
from frontend.rendering import amount_input, fmt_date, fmt_money, localized_message

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "unit" / "fixtures" / "definitions" / "valid"


def _yaml(path: Path) -> dict[str, Any]:
    """Read a service.yaml as the loader does (YAML 1.2 booleans: `on:` stays a key)."""
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=_DefinitionYamlLoader)
    return data


def _load(path: Path) -> ServiceDefinition:
    return ServiceDefinition.model_validate(_yaml(path))


def _definition(**changes: Any) -> ServiceDefinition:
    data = _yaml(ROOT / "tests/fixtures/services/lastenrad-zuschuss/service.yaml")
    data.update(changes)
    return ServiceDefinition.model_validate(data)


def _catalogue() -> list[Any]:
    return [
        service_view(_load(ROOT / "services/meldebescheinigung/service.yaml")),
        service_view(_definition()),
        service_view(_load(VALID / "gebuehrtest/service.yaml")),
    ]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("Umzug", "meldebescheinigung"),
        ("wohnsitz bescheinigung", "meldebescheinigung"),
        ("Lastenräder", "lastenrad-zuschuss"),
        ("lastenraeder", "lastenrad-zuschuss"),
        ("Fahrrad Zuschuss", "lastenrad-zuschuss"),
        ("cargo bike", "lastenrad-zuschuss"),
        ("proof of address", "meldebescheinigung"),
        ("GEBÜHRENTEST", "gebuehrtest"),
    ],
)
def test_search_finds_services_by_the_words_citizens_use(query: str, first: str) -> None:
    found = search(_catalogue(), query)
    assert found and found[0].id == first


def test_search_needs_every_word_and_ignores_noise() -> None:
    assert search(_catalogue(), "Lastenrad Hund") == []
    assert search(_catalogue(), "  ") == []
    assert search(_catalogue(), "a") == []


def test_catalogue_is_grouped_by_life_situation_with_the_rest_last() -> None:
    groups = by_life_situation(_catalogue())
    ids = [group_id for group_id, _label, _members in groups]
    assert ids == [
        "umzug-wohnen",
        "auto-verkehr",
        "ausweise-bescheinigungen",
        "geld-leistungen",
        "weitere",
    ]
    assert [s.id for s in groups[-1][2]] == ["gebuehrtest"]


def test_fees_are_shown_when_they_do_not_depend_on_the_application() -> None:
    definition = _load(VALID / "gebuehrtest/service.yaml")
    fees = {fee.id: fee for fee in definition.fees}
    assert fee_today(definition, fees["gebuehr"], date(2025, 6, 1)) == Decimal("30.00")
    assert fee_today(definition, fees["gebuehr"], date(2026, 6, 1)) == Decimal("36.00")
    assert fee_today(definition, fees["porto"], date(2026, 6, 1)) == Decimal("1.50")
    data = _yaml(VALID / "gebuehrtest/service.yaml")
    data["fees"][0]["amount"] = "params.gebuehr + (fields.familienname == 'X' ? 1.0 : 0.0)"
    depends = ServiceDefinition.model_validate(data)
    assert fee_today(depends, depends.fees[0], date(2026, 6, 1)) is None
    view = service_view(definition, today=date(2026, 6, 1))
    assert [str(f.amount) for f in view.fees] == ["36.00", "1.50"]


def test_amounts_and_dates_follow_the_language() -> None:
    assert fmt_money(Decimal("36"), "de") == "36,00\xa0€"
    assert fmt_money(Decimal("36"), "en") == "€36.00"
    assert fmt_date("2026-11-21", "de") == "21.11.2026"
    assert fmt_date("2026-11-21", "en") == "21 November 2026"
    assert fmt_date(datetime(2026, 11, 21, 23, 30, tzinfo=UTC), "de") == "22.11.2026"
    assert amount_input("3499.00", "de") == "3499,00"
    assert amount_input("3.499,00", "de") == "3.499,00"  # typed text stays as typed
    assert amount_input("3499.00", "en") == "3499.00"


def _field(kind: str, **extra: Any) -> FieldView:
    return FieldView(
        id="x",
        label=Text(de="X", en="X"),
        type=kind,
        required=True,
        origin="citizen",
        value=None,
        source=None,
        prefill_status=None,
        prefill_reason=None,
        correctable=True,
        disputed=None,
        **extra,
    )


def test_stored_answers_read_as_people_write_them() -> None:
    assert display_value(_field("date"), "1964-08-12", "de") == "12.08.1964"
    assert display_value(_field("date"), "1964-08-12", "en") == "12 August 1964"
    assert display_value(_field("decimal"), "3499.00", "de") == "3.499,00"
    assert display_value(_field("decimal"), "3499.5", "en") == "3,499.5"
    assert display_value(_field("boolean"), False, "de") == "Nein"
    assert display_value(_field("boolean"), True, "en") == "Yes"
    assert display_value(_field("iban"), "DE02120300000000202051", "de") == (
        "DE02 1203 0000 0000 2020 51"
    )
    assert display_value(_field("file"), {"name": "a.pdf", "upload": "1"}, "de") == "a.pdf"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("21.11.2026", "2026-11-21"), ("1.2.2026", "2026-02-01"), ("2026-11-21", "2026-11-21"),
     (" 21 . 11 . 2026 ", "2026-11-21"), ("21/11/2026", "2026-11-21"), ("", ""),
     ("31.02.2026", None), ("morgen", None), ("21.11.26", "2026-11-21"), ("1.3.25", "2025-03-01")],
)  # fmt: skip
def test_typed_dates(typed: str, stored: str | None) -> None:
    assert parse_date(typed) == stored


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("3.499,00", "3499.00"), ("3499,5", "3499.5"), ("3.499", "3499"), ("1.234.567", "1234567"),
     ("12.50", "12.50"), ("1 200 €", "1200"), ("abc", "abc")],
)  # fmt: skip
def test_typed_amounts(typed: str, stored: str) -> None:
    assert normalise_amount(typed) == stored


def test_typed_amounts_in_english() -> None:
    assert normalise_amount("3,499.00", "en") == "3499.00"
    assert normalise_amount("€1,200", "en") == "1200"
    assert normalise_amount("12.5", "en") == "12.5"


def test_backend_messages_show_in_the_page_language() -> None:
    message = "Diesen Vorgang gibt es nicht. (Case not found.)"
    assert localized_message(message, "de") == "Diesen Vorgang gibt es nicht."
    assert localized_message(message, "en") == "Case not found."
    legal = "Frist abgelaufen (§ 70 VwGO)"
    assert localized_message(legal, "en") == legal


def test_files_are_recognised_by_content_not_by_name() -> None:
    assert sniff_media_type(b"%PDF-1.7\n...") == "application/pdf"
    assert sniff_media_type(b"\xff\xd8\xff\xe0JFIF") == "image/jpeg"
    assert sniff_media_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_media_type(b"GIF89a") is None
    assert sniff_media_type(b"<html>%PDF-") is None
    assert display_name("C:\\Users\\x\\..\\Rechnung\u202e.pdf", "application/pdf") == "Rechnung.pdf"
    assert display_name("../../etc/passwd", "image/png") == "passwd"
    assert display_name("", "image/png") == "Dokument.png"
    long = display_name("a" * 300 + ".pdf", "application/pdf")
    assert len(long) == 120 and long.endswith(".pdf")
    assert download_name("rechnung", "image/jpeg") == "rechnung.jpg"


def test_definitions_declare_topics_and_uploads_consistently() -> None:
    with pytest.raises(ValidationError, match="unknown topic 'kaufen'"):
        _definition(fields=[*_definition().model_dump()["fields"][:-1], {
            "id": "iban", "type": "iban", "topic": "kaufen", "required": True,
            "label": {"de": "IBAN", "en": "IBAN"}}])  # fmt: skip
    with pytest.raises(ValidationError, match="reserved"):
        _definition(topics=[{"id": "angaben", "title": {"de": "A", "en": "A"}}])
    with pytest.raises(ValidationError, match="no field belongs"):
        _definition(
            topics=[
                *_definition().model_dump()["topics"],
                {"id": "leer", "title": {"de": "L", "en": "L"}},
            ]
        )
    fields = _definition().model_dump(exclude_none=True)["fields"]
    wrong = [dict(f) for f in fields]
    wrong[6]["accept"] = ["application/pdf"]
    with pytest.raises(ValidationError, match="only allowed for type 'file'"):
        _definition(fields=wrong)
    wrong = [dict(f) for f in fields]
    wrong[-2]["max_size_mb"] = 21
    with pytest.raises(ValidationError):
        _definition(fields=wrong)
    defaults = _load(ROOT / "services/meldebescheinigung/service.yaml")
    assert defaults.draft_lifetime_days == 30 and defaults.topics == []


def _state(prefill_ok: bool, steps_done: set[str], values: dict[str, Any]) -> DraftState:
    definition = _definition()
    fields = []
    for f in definition.fields:
        held = f.source is not None and prefill_ok
        fields.append(
            FieldView(
                id=f.id,
                label=Text(de=f.label.de, en=f.label.en),
                type=f.type,
                required=f.required,
                topic=f.topic or "angaben",
                origin="registry" if held else "citizen",
                value="x" if held else values.get(f.id),
                source=SourceView(
                    registry="melderegister",
                    registry_title="Melderegister",
                    record_id=None,
                    as_of=datetime(2026, 1, 1, tzinfo=UTC),
                )
                if held
                else None,
                prefill_status=("ok" if prefill_ok else "failed") if f.source else None,
                prefill_reason=None,
                correctable=True,
                disputed=None,
            )
        )
    view = ApplicationView(
        id="a" * 32,
        service=definition.id,
        status="draft",
        fields=fields,
        remark=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        submitted_at=None,
    )
    return DraftState(definition, view, frozenset(steps_done), [], None, None)


def test_pages_follow_the_topics_and_the_task_list_tracks_them() -> None:
    state = _state(True, set(), {})
    assert [p.id for p in flow.topic_pages(state)] == ["rad", "kauf", "auszahlung"]
    assert flow.uses_task_list(state)
    assert [s.status for s in flow.steps(state)] == ["not_started"] * 4
    state = _state(True, {"held", "topic:rad"}, {"antrieb": "muskel", "gewerblich": False})
    assert [s.status for s in flow.steps(state)][:2] == ["completed", "completed"]
    state = _state(True, {"held", "topic:rad"}, {"antrieb": "muskel"})
    assert flow.steps(state)[1].status == "in_progress"
    assert not flow.all_completed(state)
    # Registry down: its fields become questions on a page of their own, after the topics.
    failed = _state(False, set(), {})
    assert [p.id for p in flow.topic_pages(failed)][-1] == "angaben"
    assert [f.id for f in flow.not_retrieved(failed)][:2] == ["familienname", "vornamen"]
