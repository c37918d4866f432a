"""Assisted application at the counter: a clerk applies for a walk-in citizen identified in person.

The digital and the analogue channel are one process: the draft is prefilled from the same
registries with the same declared data needs (prefill.prefill), answered and submitted through
the citizen's own service functions (backend/cases/applications.py), and processed by the same
worker. What differs is recorded: every registry read names the clerk as actor, and the case
log gets an ``assisted_submission`` event (actor ``clerk:<id>``, channel ``counter``) right
after the citizen's ``submitted``, so the audit shows who sat at the desk.

Identification: the clerk checks the ID card (§ 1 PAuswG) and enters the citizen's
Identifikationsnummer (§ 139b AO), by which the registries are queried, and the name. In-person
identification with an official ID is the highest level of assurance, so the draft counts as
trust level "hoch". If the citizen has a portal account, its id may be given too: the case
then also appears in their portal mailbox. Otherwise the case belongs to a counter pseudonym
and the notice is handed over on paper.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.cases import applications as apps
from backend.cases.audit import record_event
from backend.cases.queries import case_documents
from backend.console.identity import ClerkIdentity, Permission
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition
from backend.errors import InvalidInput, NotFound
from backend.models import Application, Case, Document
from backend.models_insight import AssistedApplication
from prefill.service import prefill

CHANNEL = "counter"
ASSISTED_EVENT = "assisted_submission"
COUNTER_TRUST_LEVEL = "hoch"
"""Identified in person with an official ID document (eIDAS level of assurance high)."""
MAX_NAME = 200
_NOT_FOUND = "Diesen Antrag gibt es nicht. (Application not found.)"


def idnr_check_digit(first_ten: str) -> int:
    """Check digit of an Identifikationsnummer (ISO/IEC 7064 MOD 11,10, § 139b AO)."""
    product = 10
    for char in first_ten:
        total = (int(char) + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def valid_idnr(idnr: str) -> bool:
    """Eleven digits, not starting with 0, with a correct check digit (typing errors are caught
    here rather than by a registry that finds nobody)."""
    return re.fullmatch(r"[1-9][0-9]{10}", idnr) is not None and idnr_check_digit(idnr[:10]) == int(
        idnr[10]
    )


def counter_pseudonym(idnr: str) -> str:
    """A stable subject id for a citizen without a portal account; never the IdNr itself."""
    return "counter-" + hashlib.sha256(f"knopfdruck-counter:{idnr}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class WalkIn:
    """A citizen as identified at the counter."""

    idnr: str
    name: str
    portal_sub: str | None = None

    @classmethod
    def parse(cls, idnr: str, name: str, portal_sub: str | None = None) -> WalkIn:
        """What the clerk typed, checked; every problem at once, as form errors."""
        idnr = re.sub(r"\s+", "", idnr or "")
        name = " ".join((name or "").split())
        sub = (portal_sub or "").strip() or None
        problems: list[dict[str, str]] = []
        if not valid_idnr(idnr):
            problems.append(
                {
                    "field": "idnr",
                    "message": "Enter the 11-digit tax identification number.",
                    "message_de": "Bitte die elfstellige Identifikationsnummer eingeben; "
                    "die Prüfziffer stimmt nicht.",
                }
            )
        if not name or len(name) > MAX_NAME:
            problems.append(
                {
                    "field": "name",
                    "message": "Enter the name as on the ID card.",
                    "message_de": "Bitte den Namen wie im Ausweis eingeben.",
                }
            )
        if sub is not None and not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", sub):
            problems.append(
                {
                    "field": "portal_sub",
                    "message": "The portal account id is not valid.",
                    "message_de": "Die Kennung des Servicekontos ist ungültig.",
                }
            )
        if problems:
            raise InvalidInput(
                "Bitte prüfen Sie die Angaben zur Person. (Check the citizen's details.)",
                details=problems,
            )
        return cls(idnr=idnr, name=name, portal_sub=sub)

    def identity(self) -> Identity:
        """The citizen as the application functions see them."""
        return Identity(
            sub=self.portal_sub or counter_pseudonym(self.idnr),
            name=self.name,
            trust_level=COUNTER_TRUST_LEVEL,
            idnr=self.idnr,
        )


def counter_services(ctx: AppContext, clerk: ClerkIdentity) -> list[ServiceDefinition]:
    """Services of the clerk's department that can be applied for at the counter.

    File fields are left out: the counter has no scanner workflow yet, and a service that
    needs a document cannot be submitted without it.
    """
    return [
        d
        for d in ctx.catalogue.all()
        if d.department == clerk.department and not any(f.type == "file" for f in d.fields)
    ]


def _counter_service(ctx: AppContext, clerk: ClerkIdentity, service: str) -> ServiceDefinition:
    for definition in counter_services(ctx, clerk):
        if definition.id == service:
            return definition
    # Another department's service, or one with uploads: not offered here.
    raise NotFound("Diesen Dienst gibt es am Schalter nicht. (No such counter service.)")


async def start_assisted(
    ctx: AppContext, clerk: ClerkIdentity, service: str, citizen: WalkIn
) -> Application:
    """Open the draft and prefill it from the registries, with the clerk named as reader."""
    clerk.require(Permission.WORK_CASES)
    definition = _counter_service(ctx, clerk, service)
    identity = citizen.identity()
    apps.check_trust_level(identity, definition)
    application = Application(
        service=definition.id, service_version=definition.version, citizen_sub=identity.sub
    )
    needs = apps.data_needs(definition)
    claims = {"sub": identity.sub, "idnr": citizen.idnr}
    outcome = await prefill(
        needs,
        identity_claims=claims,
        service=definition.id,
        application_id=application.id,
        actor=clerk.actor.label,
        registry=ctx.connectors,
        configs=ctx.connector_configs,
        client=ctx.http,
        declared={(n.connector, n.attribute) for n in needs},
        health=ctx.registry_health,
    )
    application.prefill = {k: r.model_dump(mode="json") for k, r in outcome.results.items()}

    def persist() -> None:
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
                )
            )
            for row in apps.access_rows(outcome.accesses, identity.sub):
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
        return Identity(
            sub=self.link.citizen_sub,
            name=self.link.citizen_name,
            trust_level=COUNTER_TRUST_LEVEL,
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
        definition = ctx.catalogue.get(application.service)
        return AssistedDraft(link, application, definition, case, documents)


def _record_assisted(
    ctx: AppContext, clerk: ClerkIdentity, application_id: str, case: Case
) -> None:
    """The audit mark and the link to the case; retried because the worker may be appending
    to the same case log at this very moment (the chain's sequence number is unique)."""
    for attempt in range(8):
        try:
            with unit_of_work(ctx.engine) as session:
                record_event(
                    session,
                    case.id,
                    ASSISTED_EVENT,
                    actor=clerk.actor.label,
                    reason="Antrag am Schalter nach Identitätsprüfung mit Ausweis aufgenommen",
                    payload={"channel": CHANNEL, "identified": "in_person"},
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
    case = apps.submit_application(ctx, citizen, application_id)
    _record_assisted(ctx, clerk, application_id, case)
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
