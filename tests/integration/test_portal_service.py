"""The service functions behind the portal, called directly against the live platform's
database: draft lifetime and clean-up, progress, uploads, cockpit and timeline."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from backend.auth.tokens import Identity
from backend.cases import applications as apps
from backend.cases import drafts, queries, submission, uploads
from backend.cases.cockpit import data_cockpit
from backend.cases.proactive import OFFER_ACTOR, OFFER_PURPOSE, ProactiveOffers
from backend.columns import utcnow
from backend.context import AppContext, build_context
from backend.db import unit_of_work
from backend.errors import Conflict, InvalidInput
from backend.records.models import Application, DraftProgress
from backend.uploads.models import Upload
from sandbox.personas import persona_by_id
from tests.conftest import Platform

# A readable PDF: uploads are parsed and checked for active content (backend/uploads/files.py).
PDF = (Path(__file__).resolve().parents[1] / "e2e" / "fixtures" / "rechnung.pdf").read_bytes()


_LOOP = asyncio.new_event_loop()
"""One loop for the module: the context's HTTP client belongs to the loop it first ran on."""


@pytest.fixture(scope="module")
def ctx(platform: Platform) -> Iterator[AppContext]:
    context = build_context(platform.settings)
    yield context
    _LOOP.run_until_complete(context.http.aclose())
    context.close()
    _LOOP.close()


def _identity(persona_id: str) -> Identity:
    persona = persona_by_id(persona_id)
    assert persona is not None
    return Identity(
        sub=persona.sub,
        name=persona.name,
        trust_level=persona.trust_level,
        idnr=persona.idnr,
        birthdate=persona.birthdate.isoformat() if persona.birthdate else None,
    )


def _start(ctx: AppContext, who: Identity, service: str = "lastenrad-zuschuss") -> str:
    async def run() -> str:
        return (await apps.start_application(ctx, who, service)).id

    return _LOOP.run_until_complete(run())


def _age(ctx: AppContext, application_id: str, days: int) -> None:
    with unit_of_work(ctx.engine) as session:
        row = session.get(Application, application_id)
        assert row is not None
        row.updated_at = utcnow() - timedelta(days=days)
        session.add(row)


def test_drafts_expire_after_the_services_lifetime_and_are_purged(ctx: AppContext) -> None:
    who = _identity("bernd")
    fresh, old = _start(ctx, who), _start(ctx, who)
    uploads.attach_upload(ctx, who, old, "rechnung", filename="r.pdf", content=PDF)
    drafts.mark_step_done(ctx, who, old, "held")
    lifetime = ctx.catalogue.get("lastenrad-zuschuss").draft_lifetime_days
    _age(ctx, old, lifetime + 1)

    with pytest.raises(apps.DraftExpired) as gone:
        drafts.draft_state(ctx, who, old)
    assert gone.value.status_code == 410
    with pytest.raises(apps.DraftExpired):
        apps.update_application(ctx, who, old, answers={"haendler": "x"})

    listed = {d.id for d in drafts.my_drafts(ctx, who)}  # listing purges as it goes
    assert fresh in listed and old not in listed
    with Session(ctx.engine) as session:
        assert session.get(Application, old) is None
        assert session.get(DraftProgress, old) is None
        assert session.exec(select(Upload).where(Upload.application_id == old)).first() is None
        assert session.get(Application, fresh) is not None


def test_a_draft_one_day_short_of_its_lifetime_is_kept(ctx: AppContext) -> None:
    who = _identity("bernd")
    application = _start(ctx, who)
    lifetime = ctx.catalogue.get("lastenrad-zuschuss").draft_lifetime_days
    _age(ctx, application, lifetime - 1)
    with unit_of_work(ctx.engine) as session:
        assert apps.purge_expired_drafts(session, ctx.catalogue.all()) == 0
    state = drafts.draft_state(ctx, who, application)
    assert state.expires_at is not None and state.expires_at - utcnow() < timedelta(days=1)
    # Saving restarts the lifetime.
    drafts.mark_step_done(ctx, who, application, "held")
    renewed = drafts.draft_state(ctx, who, application).expires_at
    assert renewed is not None and renewed - utcnow() > timedelta(days=lifetime - 1)


def test_progress_knows_only_the_services_steps(ctx: AppContext) -> None:
    who = _identity("bernd")
    application = _start(ctx, who)
    drafts.mark_step_done(ctx, who, application, "topic:rad")
    drafts.mark_step_done(ctx, who, application, "topic:rad")
    assert drafts.draft_state(ctx, who, application).steps_done == {"topic:rad"}
    with pytest.raises(InvalidInput):
        drafts.mark_step_done(ctx, who, application, "topic:gibtsnicht")


def test_uploads_are_refused_for_other_fields_and_sent_drafts(ctx: AppContext) -> None:
    who = _identity("bernd")
    application = _start(ctx, who, "meldebescheinigung")
    with pytest.raises(Exception) as no_field:
        uploads.attach_upload(ctx, who, application, "familienname", filename="a.pdf", content=PDF)
    assert getattr(no_field.value, "status_code", None) == 404
    with pytest.raises(InvalidInput) as typed:
        apps.update_application(ctx, who, _start(ctx, who), answers={"rechnung": "a.pdf"})
    assert "Datei hoch" in typed.value.details[0]["message_de"]
    submission.submit_application(ctx, who, application)
    with pytest.raises(Conflict):
        drafts.discard_draft(ctx, who, application)


def test_upload_limits_come_from_the_definition(ctx: AppContext) -> None:
    who = _identity("bernd")
    application = _start(ctx, who)
    limit = ctx.catalogue.get("lastenrad-zuschuss").fields[-2].upload_limit_bytes
    assert limit == 5 * 1024 * 1024
    with pytest.raises(InvalidInput) as large:
        uploads.attach_upload(
            ctx, who, application, "rechnung", filename="gross.pdf", content=PDF + b"0" * limit
        )
    assert "größer als 5 MB" in large.value.details[0]["message_de"]
    view = uploads.attach_upload(
        ctx, who, application, "rechnung", filename="genau.pdf", content=PDF.ljust(limit, b" ")
    )
    assert view.size == limit and view.media_type == "application/pdf"


def test_cockpit_and_timeline_show_only_the_citizens_own_data(ctx: AppContext) -> None:
    who, other = _identity("lukas"), _identity("katrin")
    application = _start(ctx, who, "meldebescheinigung")
    case = submission.submit_application(ctx, who, application)
    cockpit = data_cockpit(ctx, who)
    # Other tests on the shared database may read Lukas's data for other services: this
    # service's reads are the Melderegister's, made by the citizen.
    mine = [a for a in cockpit.accesses if a.service == "meldebescheinigung"]
    assert mine and all(a.registry == "melderegister" for a in mine)
    assert {d.de for a in mine for d in a.data} >= {"Familienname", "Postleitzahl"}
    assert all(a.actor == "citizen" for a in mine)
    reading = next(
        r for h in cockpit.holdings for r in h.readings if r.case_reference == case.reference
    )
    assert {i.label.de: i.value for i in reading.items}["Familienname"] == "Fischer"
    assert data_cockpit(ctx, other).holdings == [] or all(
        r.case_reference != case.reference
        for h in data_cockpit(ctx, other).holdings
        for r in h.readings
    )
    detail = queries.my_case(ctx, who, case.id)
    assert detail.timeline[0].kind == "submitted"
    assert detail.timeline[0].actor == "citizen"
    with pytest.raises(Exception) as hidden:
        queries.my_case(ctx, other, case.id)
    assert getattr(hidden.value, "status_code", None) == 404


def test_the_proactive_birth_lookup_is_not_shown_as_a_decision(ctx: AppContext) -> None:
    """David never applied: the cockpit must call the lookup an offer check, not a Festsetzung."""
    david = _identity("david")
    offers = _LOOP.run_until_complete(ProactiveOffers().offers_for(ctx, david))
    assert {o.service for o in offers} >= {"kindergeld"}
    lookups = [a for a in data_cockpit(ctx, david).accesses if a.registry != "Fallakte"]
    assert lookups, "the register read must be in the cockpit"
    proactive = [a for a in lookups if a.actor == OFFER_ACTOR]
    assert proactive and all(a.purpose == OFFER_PURPOSE for a in proactive)
    assert all(a.legal_basis for a in proactive)
    assert not [a for a in lookups if a.purpose.startswith("Festsetzung") and a.actor == "system"]
