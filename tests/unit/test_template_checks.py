"""validate's template check knows exactly the names and filters the renderer provides."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from jinja2.sandbox import ImmutableSandboxedEnvironment

from backend.definitions.catalogue import load_catalogue
from backend.definitions.lint import RENDERER_FILTERS, TEMPLATE_NAMES
from backend.documents import NoticeRenderer
from backend.notices.content import template_context
from backend.records.models import Case
from prefill.configuration import build_default_registry

ROOT = Path(__file__).resolve().parents[2]
# Added by the issuing step next to template_context (notices.issue, services preview).
VERIFICATION_NAMES = {"qr_data_url", "verification_link", "verification_url"}


def test_the_checked_names_are_the_names_a_notice_gets() -> None:
    catalogue = load_catalogue(ROOT / "services", build_default_registry())
    definition = catalogue.get("meldebescheinigung")
    case = Case(
        reference="KD-2026-000001",
        application_id="a",
        service=definition.id,
        service_version=definition.version,
        department=definition.department,
        citizen_sub="erika",
        reference_date=date(2026, 3, 1),
        data={"values": {"familienname": "Mustermann"}, "provenance": {}},
        decision={"outcome": "approved", "reasons": [], "amounts": {}},
        outcome="approved",
        submitted_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
    )
    context = template_context(
        "Stadt Köln",
        case,
        definition,
        definition.documents[0],
        date(2026, 3, 1),
        None,
        automated=True,
    )
    assert set(context) | VERIFICATION_NAMES == TEMPLATE_NAMES


def test_the_checked_filters_are_the_renderer_s_own() -> None:
    environment = NoticeRenderer(ROOT / "services")._environment(ROOT / "services")
    jinja_defaults = set(ImmutableSandboxedEnvironment().filters)
    assert set(environment.filters) - jinja_defaults == RENDERER_FILTERS
