"""Assisted application at the counter: a clerk applies for a walk-in citizen identified in person.

The digital and the analogue channel are one process: the draft is prefilled from the same
registries with the same declared data needs (prefill.prefill), answered and submitted through
the citizen's own service functions (backend/cases/applications.py), and processed by the same
worker. What differs is recorded: every registry read names the clerk as actor, and the case
log gets an ``assisted_submission`` event (actor ``clerk:<id>``, channel ``counter``, how and
when the person was identified) right after the citizen's ``submitted``, so the audit shows who
sat at the desk.

Identification (backend/console/counter_identity.py): the clerk enters the citizen's
Identifikationsnummer (§ 139b AO), family name, given names and date of birth, and the ID
document shown (§ 1 PAuswG). The Melderegister must hold exactly that person under the IdNr;
only then is anything read for the application. If the citizen has a portal account, its id
may be given too, and it is linked only when the account's own eID identity carries the same
IdNr: the case then also appears in their portal mailbox. Otherwise the case belongs to a
counter pseudonym and the notice is handed over on paper. Every registry read is logged for
the identified person (the counter pseudonym of their IdNr), which their data cockpit shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.cases import applications as apps
from backend.cases import submission
from backend.cases.queries import case_documents
from backend.cases.subjects import counter_pseudonym
from backend.columns import aware
from backend.console.counter_identity import (
    DOCUMENT_KINDS,
    WalkIn,
    identify,
    valid_idnr,
)
from backend.console.models import AssistedApplication
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition
from backend.department.identity import ClerkIdentity, Permission
from backend.domain.case_state import Actor
from backend.errors import InvalidInput, NotFound
from backend.records.audit import record_event
from backend.records.models import Application, Case, Document
from prefill.connectors.base import NeedResult
from prefill.service import DataNeed, PrefillOutcome, prefill

__all__ = [
    "DOCUMENT_KINDS",
    "AssistedDraft",
    "WalkIn",
    "assisted_document",
    "counter_pseudonym",
    "counter_services",
    "load_assisted",
    "recent_assisted",
    "start_assisted",
    "submit_assisted",
    "valid_idnr",
]

CHANNEL = "counter"
ASSISTED_EVENT = "assisted_submission"
_NOT_FOUND = "Diesen Antrag gibt es nicht. (Application not found.)"
_IDENTIFIED_BY: dict[str, str] = {
    "melderegister": "Identität am Schalter mit dem Melderegister abgeglichen",
    "melderegister_ausweis": "Identität am Schalter mit Ausweis und Melderegister geprüft",
    "ausweis": "Identität am Schalter mit Ausweis geprüft (nicht im Melderegister)",
}
_UNCHECKED = "Identität nicht abgeglichen (Entwurf aus der Zeit vor der Prüfung)"


def counter_services(ctx: AppContext, clerk: ClerkIdentity) -> list[ServiceDefinition]:
    """Services of the clerk's department that can be applied for at the counter.

    File fields are left out: the counter has no scanner workflow yet, and a service that
    needs a document cannot be submitted without it.
    """
    return [
        d
        for d in ctx.department_services(clerk.department)
        if not any(f.type == "file" for f in d.fields)
    ]


def _counter_service(ctx: AppContext, clerk: ClerkIdentity, service: str) -> ServiceDefinition:
    for definition in counter_services(ctx, clerk):
        if definition.id == service:
            return definition
    # Another department's service, or one with uploads: not offered here.
    raise NotFound("Diesen Dienst gibt es am Schalter nicht. (No such counter service.)")


def _require_document_if_needed(definition: ServiceDefinition, citizen: WalkIn) -> None:
    """A service that demands trust level "hoch" needs the ID document recorded: matching what
    someone knows against the register does not reach that level."""
    if definition.trust_level == "hoch" and citizen.document is None:
        raise InvalidInput(
            "Für diesen Dienst muss der vorgelegte Ausweis erfasst werden. (This service needs "
            "the ID document shown to be recorded.)",
            details=[
                {
                    "field": "document_kind",
                    "message": "Record the ID document the person shows (this service needs "
                    "trust level high).",
                    "message_de": "Bitte den vorgelegten Ausweis erfassen (dieser Dienst "
                    "verlangt das Vertrauensniveau hoch).",
                }
            ],
        )


def _unread(needs: list[DataNeed]) -> PrefillOutcome:
    """No registry is read by an IdNr the Melderegister did not confirm: an ID document does
    not show the IdNr, so it could be anybody's. The clerk asks the person for every value."""
    return PrefillOutcome(
        results={
            n.key: NeedResult(
                attribute=n.attribute,
                status="empty",
                reason="not read: the Melderegister does not confirm this IdNr",
            )
            for n in needs
        },
        accesses=[],
    )


async def start_assisted(
    ctx: AppContext, clerk: ClerkIdentity, service: str, citizen: WalkIn
) -> Application:
    """Identify the person, then open the draft and prefill it, with the clerk named as reader."""
    clerk.require(Permission.WORK_CASES)
    definition = _counter_service(ctx, clerk, service)
    _require_document_if_needed(definition, citizen)
    person = await identify(ctx, clerk, definition.id, citizen)
    identity = person.identity()
    apps.check_trust_level(identity, definition)
    application = Application(
        service=definition.id,
        service_version=definition.version,
        # The counter belongs to the clerk's authority: the case is decided by it.
        tenant=ctx.tenant_of_department(clerk.department),
        citizen_sub=identity.sub,
    )
    needs = apps.data_needs(definition)
    if person.register_confirmed:
        outcome = await prefill(
            needs,
            identity_claims={"sub": person.data_subject, "idnr": person.idnr},
            service=definition.id,
            application_id=application.id,
            actor=clerk.actor.label,
            registry=ctx.connectors,
            configs=ctx.connector_configs,
            client=ctx.http,
            declared={(n.connector, n.attribute) for n in needs},
            health=ctx.registry_health,
        )
    else:
        outcome = _unread(needs)
    application.prefill = {k: r.model_dump(mode="json") for k, r in outcome.results.items()}

    def persist() -> None:
        document = citizen.document
        with unit_of_work(ctx.engine) as session:
            session.add(application)
            session.flush()
            session.add(
                AssistedApplication(
                    application_id=application.id,
                    department=clerk.department,
                    clerk_sub=clerk.sub,
                    citizen_sub=identity.sub,
                    citizen_name=citizen.name,
                    channel=CHANNEL,
                    identification=person.identification,
                    identified_at=person.identified_at,
                    trust_level=person.trust_level,
                    id_document_kind=document.kind if document else None,
                    id_document_number=document.number if document else None,
                    id_document_authority=document.authority if document else None,
                )
            )
            # For the person whose data it is, never for whichever account was typed in.
            for row in apps.access_rows(outcome.accesses, person.data_subject):
                session.add(row)

    await run_in_threadpool(persist)
    return application


@dataclass(frozen=True)
class AssistedDraft:
    """A counter application as the clerk sees it: the draft, its service, its case if sent."""

    link: AssistedApplication
    application: Application
    definition: ServiceDefinition
    case: Case | None
    documents: list[Document]

    @property
    def citizen(self) -> Identity:
        """The applicant as identified at the counter, at the trust level that was reached."""
        return Identity(
            sub=self.link.citizen_sub,
            name=self.link.citizen_name,
            # Drafts taken before identities were checked keep the level they were given.
            trust_level=self.link.trust_level or "hoch",
        )

    @property
    def held(self) -> dict[str, dict[str, Any]]:
        """Registry values by field id (status ok)."""
        return {k: v for k, v in self.application.prefill.items() if v.get("status") == "ok"}

    @property
    def to_answer(self) -> list[Any]:
        """The fields the clerk asks the citizen: what no registry delivered."""
        return [f for f in self.definition.fields if f.id not in self.held]


def _link(session: Session, clerk: ClerkIdentity, application_id: str) -> AssistedApplication:
    link = session.get(AssistedApplication, application_id)
    # Only the department that took the application sees it; anyone else gets 404.
    if link is None or link.department != clerk.department:
        raise NotFound(_NOT_FOUND)
    return link


def load_assisted(ctx: AppContext, clerk: ClerkIdentity, application_id: str) -> AssistedDraft:
    """The counter application with its case and documents, for the clerk's department only."""
    clerk.require(Permission.WORK_CASES)
    with Session(ctx.engine) as session:
        link = _link(session, clerk, application_id)
        application = session.get(Application, application_id)
        if application is None:
            raise NotFound(_NOT_FOUND)
        case = session.get(Case, link.case_id) if link.case_id else None
        documents = case_documents(session, case.id) if case else []
        definition = ctx.draft_definition(application)
        return AssistedDraft(link, application, definition, case, documents)


def _record_assisted(
    ctx: AppContext, clerk: ClerkIdentity, draft: AssistedDraft, case: Case
) -> None:
    """The audit mark (who identified the person, how and when) and the link to the case;
    retried because the worker may be appending to the same case log at this very moment (the
    chain's sequence number is unique)."""
    application_id = draft.link.application_id
    how = draft.link.identification or "unchecked"
    kind = draft.link.id_document_kind
    clerk_label = Actor.clerk(draft.link.clerk_sub).label
    at = draft.link.identified_at
    identified_at = aware(at).isoformat() if at is not None else None
    for attempt in range(8):
        try:
            with unit_of_work(ctx.engine) as session:
                record_event(
                    session,
                    case.id,
                    ASSISTED_EVENT,
                    actor=clerk.actor.label,
                    reason=f"Antrag am Schalter aufgenommen; {_IDENTIFIED_BY.get(how, _UNCHECKED)}",
                    payload={
                        "channel": CHANNEL,
                        "identified": how,
                        "identified_by": clerk_label,
                        "identified_at": identified_at,
                        "id_document": kind,
                    },
                    idempotency_key=ASSISTED_EVENT,
                )
                link = session.get(AssistedApplication, application_id)
                if link is not None and link.case_id is None:
                    link.case_id = case.id
                    session.add(link)
            return
        except (IntegrityError, OperationalError):
            if attempt == 7:
                raise
            time.sleep(0.05 * (attempt + 1))


def submit_assisted(
    ctx: AppContext,
    clerk: ClerkIdentity,
    application_id: str,
    answers: dict[str, Any],
    remark: str | None = None,
) -> Case:
    """Store the citizen's answers and submit through the citizen's own submit function."""
    draft = load_assisted(ctx, clerk, application_id)
    citizen = draft.citizen
    if draft.case is None:
        wanted = {f.id for f in draft.to_answer}
        unknown = sorted(set(answers) - wanted)
        if unknown:
            raise InvalidInput(
                "Unbekannte Angaben. (Unknown answers.)",
                details=[{"field": f, "message": "Unknown field."} for f in unknown],
            )
        apps.update_application(
            ctx,
            citizen,
            application_id,
            answers=answers,
            remark=remark,
        )
    # Recorded as the clerk's submission for the citizen (the log's actor is the clerk).
    case = submission.submit_application(ctx, citizen, application_id, typed_by=clerk.actor)
    _record_assisted(ctx, clerk, draft, case)
    return case


def assisted_document(
    ctx: AppContext, clerk: ClerkIdentity, application_id: str, document_id: str
) -> Document:
    """A notice of a counter case, to print on the spot; only for the department that took it."""
    clerk.require(Permission.WORK_CASES)
    with Session(ctx.engine) as session:
        link = _link(session, clerk, application_id)
        if link.case_id is None:
            raise NotFound("Dieses Dokument gibt es nicht. (Document not found.)")
        document = session.exec(
            select(Document).where(
                col(Document.id) == document_id, col(Document.case_id) == link.case_id
            )
        ).first()
        if document is None:
            raise NotFound("Dieses Dokument gibt es nicht. (Document not found.)")
        return document


def recent_assisted(
    ctx: AppContext, clerk: ClerkIdentity, limit: int = 20
) -> list[AssistedApplication]:
    """The department's latest counter applications, newest first."""
    clerk.require(Permission.WORK_CASES)
    with Session(ctx.engine) as session:
        return list(
            session.exec(
                select(AssistedApplication)
                .where(col(AssistedApplication.department) == clerk.department)
                .order_by(col(AssistedApplication.created_at).desc())
                .limit(limit)
            ).all()
        )
