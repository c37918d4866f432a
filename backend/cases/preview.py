"""A service's documents rendered for a sandbox persona: `services preview` and the designer.

The persona's held data comes from a fresh in-process sandbox through the real connectors, as
in `services test` and the portal; questions nobody answered get a plausible sample, so every
branch of a template renders. Nothing is stored and nobody is notified.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from backend.cases.applications import data_needs
from backend.cases.service_tests import SandboxPrefill, unsaved_case
from backend.definitions.models import Field, ServiceDefinition
from backend.documents import NoticeRenderer
from backend.documents.render import RenderError
from backend.domain.decision import Decision
from backend.notices.content import template_context
from backend.notices.qr import qr_data_url
from backend.rules.evaluate import decide
from backend.settings import Settings
from prefill.connectors.registry import ConnectorRegistry
from prefill.service import prefill
from sandbox.personas import Persona


def sample_answer(field: Field, reference_date: date) -> Any:
    """A plausible answer for a question no registry fills, so every template branch renders."""
    samples: dict[str, Any] = {
        "string": "Beispiel",
        "text": "Beispieltext",
        "integer": 1,
        "decimal": Decimal("1.00"),
        "boolean": True,
        "date": reference_date,
        "iban": "DE02120300000000202051",
        "email": "vorschau@example.de",
    }
    if field.type == "choice":
        # A choice among held records (options_from) has no fixed options; with no record
        # held there is nothing to choose, as in the portal.
        return field.options[0].value if field.options else None
    return samples.get(field.type)


async def persona_values(
    connectors: ConnectorRegistry, definition: ServiceDefinition, persona: Persona
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Prefill from a fresh in-process sandbox, exactly as `services test` and a citizen do."""
    values: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for key, result in (await persona_prefill(connectors, definition, persona)).items():
        if result.status == "ok":
            values[key] = result.value
            if result.provenance is not None:
                provenance[key] = result.provenance.model_dump(mode="json")
    return values, provenance


async def persona_prefill(
    connectors: ConnectorRegistry, definition: ServiceDefinition, persona: Persona
) -> dict[str, Any]:
    """Every data need's result for the persona (ok, empty or failed), as an application
    stores them, so the designer's form preview shows what the citizen would see."""
    needs = data_needs(definition)
    if not needs:
        return {}
    claims = {"sub": persona.sub}
    if persona.idnr:
        claims["idnr"] = persona.idnr
    sandbox = SandboxPrefill(connectors)
    try:
        outcome = await prefill(
            needs,
            identity_claims=claims,
            service=definition.id,
            application_id=None,
            actor="integrator-preview",
            registry=connectors,
            configs=sandbox.configs,
            client=sandbox.client,
            declared={(n.connector, n.attribute) for n in needs},
        )
    finally:
        await sandbox.aclose()
    return dict(outcome.results)


@dataclass(frozen=True)
class PreviewCase:
    """The persona's case as the rules decide it, ready to render any document of it."""

    definition: ServiceDefinition
    persona: Persona
    reference_date: date
    decision: Decision
    stored: dict[str, Any]
    provenance: dict[str, Any]


def preview_case(
    connectors: ConnectorRegistry,
    definition: ServiceDefinition,
    persona: Persona,
    answers: dict[str, Any],
    reference_date: date,
) -> PreviewCase:
    """Held data, the given answers and samples for the rest, decided by the rules."""
    held, provenance = asyncio.run(persona_values(connectors, definition, persona))
    values: dict[str, Any] = dict(held)
    for field in definition.fields:
        if field.id in answers:
            values[field.id] = answers[field.id]
        # An optional held value the register did not deliver is not asked in the portal
        # either (issue 20), so the preview invents none.
        elif (
            field.id not in values
            and field.type != "file"
            and (field.source is None or field.required)
        ):
            sample = sample_answer(field, reference_date)
            if sample is not None:
                values[field.id] = sample
    decision = decide(definition, values, reference_date)
    stored = {
        key: (
            value.isoformat()
            if isinstance(value, date)
            else str(value)
            if isinstance(value, Decimal)
            else value
        )
        for key, value in values.items()
    }
    return PreviewCase(definition, persona, reference_date, decision, stored, provenance)


def render_preview(
    settings: Settings,
    renderer: NoticeRenderer,
    folder: Path,
    preview: PreviewCase,
    document_id: str,
    outcome: str,
) -> bytes:
    """One document of the case for an outcome, as a PDF stamped VORSCHAU; RenderError if its
    template fails on this data."""
    definition, persona = preview.definition, preview.persona
    document = next(d for d in definition.documents if d.id == document_id)
    case = unsaved_case(
        definition,
        persona,
        "VORSCHAU",
        {"values": preview.stored, "provenance": preview.provenance},
        preview.decision.to_json(),
        outcome,
        preview.reference_date,
    )
    context = template_context(
        settings.authority_name,
        case,
        definition,
        document,
        preview.reference_date,
        None,
        automated=True,
    )
    link = f"{settings.base_url}/verify"
    context.update(qr_data_url=qr_data_url(link), verification_link=link, verification_url=link)
    return renderer.render(folder.resolve(), document.template, context)


__all__ = ["PreviewCase", "RenderError", "preview_case", "render_preview", "sample_answer"]
