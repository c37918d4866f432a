"""Applications: start with prefilled held data, take the citizen's answers and disputes.

Submitting a draft lives in ``backend/cases/submission.py``."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.cases.competence import authority_for
from backend.cases.draft_version import draft_fingerprints, version_of
from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.answers import (
    FieldProblem,
    allowed_answers,
    coerce,
    din91379_problem,
    register_said_none,
)
from backend.definitions.models import ServiceDefinition
from backend.errors import Conflict, Forbidden, InvalidInput, KnopfdruckError, NotFound
from backend.records.models import Application, DraftProgress, RegistryAccess
from backend.uploads.models import Upload
from prefill.connectors.base import TRUST_ORDER
from prefill.service import DataNeed, PrefillOutcome, prefill
from prefill.service import RegistryAccess as Access

MAX_STATEMENT = 1000


class DraftExpired(KnopfdruckError):
    """A draft outlived its service's draft lifetime; it is deleted, never silently revived."""

    status_code = 410
    code = "draft_expired"


def data_needs(
    definition: ServiceDefinition, only: Collection[str] | None = None
) -> list[DataNeed]:
    """What prefill may read for a service: its declared sources (optionally some fields)."""
    return [
        DataNeed(
            key=f.id,
            connector=f.source.connector,
            attribute=f.source.attribute,
            purpose=f.source.purpose,
            legal_basis=f.source.legal_basis,
        )
        for f in definition.fields
        if f.source is not None and (only is None or f.id in only)
    ]


def check_trust_level(identity: Identity, definition: ServiceDefinition) -> None:
    if TRUST_ORDER.get(identity.trust_level, 0) < TRUST_ORDER[definition.trust_level]:
        raise Forbidden(
            f"Für „{definition.title.de}“ brauchen Sie eine Anmeldung mit Vertrauensniveau "
            f"„{definition.trust_level}“, zum Beispiel mit dem Online-Ausweis. "
            f"(This service needs trust level '{definition.trust_level}'.)"
        )


def access_rows(accesses: Iterable[Access], subject_sub: str) -> list[RegistryAccess]:
    """The data cockpit's rows (§ 10 OZG) for prefill's registry reads."""
    return [
        RegistryAccess(
            at=a.at,
            subject_sub=subject_sub,
            registry_id=a.registry,
            attributes_requested=list(a.attributes_requested),
            attributes_returned=list(a.attributes_returned),
            purpose=a.purpose,
            legal_basis=a.legal_basis,
            service=a.service,
            application_id=a.application_id,
            case_id=a.case_id,
            actor=a.actor,
            outcome=a.outcome,
            duration_ms=a.duration_ms,
        )
        for a in accesses
    ]


async def _prefill_for(
    ctx: AppContext,
    identity: Identity,
    definition: ServiceDefinition,
    application_id: str,
    needs: list[DataNeed],
) -> PrefillOutcome:
    """One prefill run for the citizen's own application (start, or asking again)."""
    claims = {"sub": identity.sub}
    if identity.idnr:
        claims["idnr"] = identity.idnr
    return await prefill(
        needs,
        identity_claims=claims,
        service=definition.id,
        application_id=application_id,
        actor="citizen",
        registry=ctx.connectors,
        configs=ctx.connector_configs,
        client=ctx.http,
        declared={(n.connector, n.attribute) for n in data_needs(definition)},
        health=ctx.registry_health,
    )


async def start_application(
    ctx: AppContext, identity: Identity, service: str, place: str | None = None
) -> Application:
    """Create the draft at the competent authority and fill in everything the registries hold,
    each value with its source. `place`: the tenant the citizen chose (URL or place picker)."""
    template = ctx.catalogue.get(service)
    check_trust_level(identity, template)
    tenant, routing = await authority_for(ctx, identity, template, place)
    definition = ctx.definition(service, tenant=tenant)
    application = Application(
        service=definition.id,
        service_version=definition.version,
        tenant=tenant,
        citizen_sub=identity.sub,
    )
    outcome = await _prefill_for(ctx, identity, definition, application.id, data_needs(definition))
    application.prefill = {k: r.model_dump(mode="json") for k, r in outcome.results.items()}
    accesses = [*(routing.accesses if routing is not None else []), *outcome.accesses]

    def persist() -> None:
        with unit_of_work(ctx.engine) as session:
            # Housekeeping rides along with new drafts, so expired ones never pile up.
            purge_expired_drafts(session, ctx.catalogue.all())
            session.add(application)
            for row in access_rows(accesses, identity.sub):
                if row.application_id is None:
                    row.application_id = application.id  # the routing read, before the draft
                session.add(row)

    await run_in_threadpool(persist)
    return application


async def refresh_prefill(ctx: AppContext, identity: Identity, application_id: str) -> int:
    """Ask the registries again for what they could not deliver; returns how many arrived."""

    def load() -> tuple[Application, ServiceDefinition]:
        with Session(ctx.engine) as session:
            return open_draft(ctx, session, identity, application_id)

    application, definition = await run_in_threadpool(load)
    failed = {k for k, e in application.prefill.items() if e.get("status") == "failed"}
    needs = [n for n in data_needs(definition) if n.key in failed]
    if not needs:
        return 0
    outcome = await _prefill_for(ctx, identity, definition, application.id, needs)
    arrived = {k: r for k, r in outcome.results.items() if r.status != "failed"}

    def persist() -> None:
        with unit_of_work(ctx.engine) as session:
            draft, _definition = open_draft(ctx, session, identity, application_id)
            draft.prefill = {
                **draft.prefill,
                **{k: r.model_dump(mode="json") for k, r in arrived.items()},
            }
            # A value the registry now holds is confirmed, not typed: drop the stopgap answer.
            held_now = {k for k, r in arrived.items() if r.status == "ok"}
            draft.answers = {k: v for k, v in draft.answers.items() if k not in held_now}
            draft.updated_at = utcnow()
            session.add(draft)
            for row in access_rows(outcome.accesses, identity.sub):
                session.add(row)

    await run_in_threadpool(persist)
    return sum(1 for r in arrived.values() if r.status == "ok")


def get_application(session: Session, identity: Identity, application_id: str) -> Application:
    """The citizen's own application; anyone else's does not exist for them (404, not 403)."""
    application = session.get(Application, application_id)
    if application is None or application.citizen_sub != identity.sub:
        raise NotFound("Diesen Antrag gibt es nicht. (Application not found.)")
    return application


def draft_expires_at(definition: ServiceDefinition, application: Application) -> datetime:
    """A draft is kept for the service's draft lifetime after it was last saved."""
    return aware(application.updated_at) + timedelta(days=definition.draft_lifetime_days)


def open_draft(
    ctx: AppContext, session: Session, identity: Identity, application_id: str
) -> tuple[Application, ServiceDefinition]:
    """The citizen's draft to change: not sent yet and not past its lifetime."""
    application = get_application(session, identity, application_id)
    if application.status != "draft":
        raise Conflict("Dieser Antrag ist schon abgeschickt. (Already submitted.)")
    definition = ctx.draft_definition(application)
    if draft_expires_at(definition, application) < utcnow():
        raise DraftExpired(
            "Dieser Entwurf ist abgelaufen und wurde gelöscht. Bitte stellen Sie den Antrag neu. "
            "(This draft has expired and was deleted. Please start again.)"
        )
    return application, definition


def delete_draft_rows(session: Session, application_ids: list[str]) -> None:
    """Remove drafts with their uploads and progress; their registry reads stay in the log."""
    if not application_ids:
        return
    session.exec(delete(Upload).where(col(Upload.application_id).in_(application_ids)))
    session.exec(
        delete(DraftProgress).where(col(DraftProgress.application_id).in_(application_ids))
    )
    session.exec(
        delete(Application).where(
            col(Application.id).in_(application_ids), col(Application.status) == "draft"
        )
    )


def purge_expired_drafts(
    session: Session, definitions: list[ServiceDefinition], now: datetime | None = None
) -> int:
    """Delete every draft past its service's lifetime (Art. 5 Abs. 1 lit. e DSGVO)."""
    moment = now or utcnow()
    expired: list[str] = []
    for definition in definitions:
        # Every stored time is UTC, so a UTC bound compares correctly on both databases.
        bound = (moment - timedelta(days=definition.draft_lifetime_days)).astimezone(UTC)
        expired += session.exec(
            select(Application.id).where(
                Application.service == definition.id,
                Application.status == "draft",
                col(Application.updated_at) < bound,
            )
        ).all()
    delete_draft_rows(session, expired)
    return len(expired)


def list_applications(session: Session, identity: Identity) -> list[Application]:
    return list(
        session.exec(
            select(Application)
            .where(Application.citizen_sub == identity.sub)
            .order_by(col(Application.created_at).desc())
        ).all()
    )


def _held(application: Application, field_id: str) -> bool:
    entry = application.prefill.get(field_id)
    return bool(entry and entry.get("status") == "ok")


def update_application(
    ctx: AppContext,
    identity: Identity,
    application_id: str,
    *,
    answers: dict[str, Any] | None = None,
    disputes: dict[str, str | None] | None = None,
    remark: str | None = None,
    clear_remark: bool = False,
) -> Application:
    """Store answers (only for data no registry delivered) and "this is wrong" statements."""
    with unit_of_work(ctx.engine) as session:
        application, definition = open_draft(ctx, session, identity, application_id)
        by_id = {f.id: f for f in definition.fields}
        problems: list[FieldProblem] = []
        new_answers = dict(application.answers)
        for fid, raw in (answers or {}).items():
            field = by_id.get(fid)
            if field is None:
                problems.append(FieldProblem(fid, "Dieses Feld gibt es nicht.", "Unknown field."))
                continue
            if _held(application, fid):
                problems.append(
                    FieldProblem(
                        fid,
                        "Diese Angabe stammt aus einem Register. Melden Sie sie als falsch, "
                        "statt sie zu ändern.",
                        "This value comes from a register. "
                        "Report it as wrong instead of changing it.",
                    )
                )
                continue
            if register_said_none(field, application.prefill.get(fid)):
                # Not asked, so only a crafted request gets here: the register's answer stands.
                problems.append(
                    FieldProblem(
                        fid,
                        "Diese Angabe wird nicht abgefragt: Das Register hat dazu geantwortet, "
                        "dass es keine gibt.",
                        "This value is not asked: the register answered that there is none.",
                    )
                )
                continue
            if field.type == "file":
                problems.append(
                    FieldProblem(
                        fid,
                        "Für diese Angabe laden Sie bitte eine Datei hoch.",
                        "Upload a file for this answer.",
                    )
                )
                continue
            value, problem = coerce(field, raw, allowed_answers(field, application.prefill))
            if problem:
                problems.append(problem)
            elif value is None:
                new_answers.pop(fid, None)
            else:
                new_answers[fid] = value
        new_disputes = dict(application.disputes)
        for fid, statement in (disputes or {}).items():
            field = by_id.get(fid)
            if field is None or not _held(application, fid):
                problems.append(
                    FieldProblem(
                        fid,
                        "Nur Angaben aus einem Register können als falsch gemeldet werden.",
                        "Only values from a register can be reported as wrong.",
                    )
                )
                continue
            if not field.correctable:
                problems.append(
                    FieldProblem(
                        fid,
                        "Diese Angabe kann hier nicht beanstandet werden; "
                        "wenden Sie sich an die Behörde.",
                        "This value cannot be disputed here; contact the authority.",
                    )
                )
                continue
            if statement is None or not statement.strip():
                new_disputes.pop(fid, None)
                continue
            if len(statement) > MAX_STATEMENT:
                problems.append(
                    FieldProblem(
                        fid,
                        f"Bitte höchstens {MAX_STATEMENT} Zeichen.",
                        f"At most {MAX_STATEMENT} characters.",
                    )
                )
                continue
            outside = din91379_problem(
                fid, f"Beanstandung zu {field.label.de}", f"Dispute of {field.label.en}", statement
            )
            if outside is not None:
                problems.append(outside)
                continue
            new_disputes[fid] = statement.strip()
        if remark is not None and len(remark) > MAX_STATEMENT:
            problems.append(
                FieldProblem(
                    "remark",
                    f"Bitte höchstens {MAX_STATEMENT} Zeichen.",
                    f"At most {MAX_STATEMENT} characters.",
                )
            )
        elif remark is not None:
            outside = din91379_problem("remark", "Bemerkung", "Remark", remark)
            if outside is not None:
                problems.append(outside)
        if problems:
            raise InvalidInput(
                "Bitte prüfen Sie Ihre Angaben. (Check your answers.)",
                details=[p.as_detail() for p in problems],
            )
        application.answers = new_answers
        application.disputes = new_disputes
        if clear_remark:
            application.remark = None
        elif remark is not None:
            application.remark = remark.strip() or None
        application.updated_at = utcnow()
        session.add(application)
    return application


def merged_values(application: Application) -> dict[str, Any]:
    """Held values where the registry delivered them, the citizen's answers elsewhere."""
    values: dict[str, Any] = {}
    for fid, entry in application.prefill.items():
        if entry.get("status") == "ok":
            values[fid] = entry.get("value")
    for fid, value in application.answers.items():
        values.setdefault(fid, value)
    return values


def application_prints(session: Session, application: Application) -> dict[str, str]:
    """The fingerprints of everything a check page shows of this draft (draft_version.py)."""
    files = session.exec(
        select(Upload.field_id, Upload.sha256).where(Upload.application_id == application.id)
    ).all()
    return draft_fingerprints(
        merged_values(application),
        application.disputes,
        application.remark,
        [(field, sha) for field, sha in files],
    )


def application_version(session: Session, application: Application) -> str:
    """The draft's version, as the API's ETag and the check page's hidden field carry it."""
    return version_of(application_prints(session, application))
