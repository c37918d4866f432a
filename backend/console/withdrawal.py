"""Withdrawing a favourable decision after review or objection (§§ 28, 48, 49 VwVfG).

A person who turns a standing approval into a rejection takes back what the citizen was given.
For an administrative act that is a Rücknahme (§ 48 VwVfG, the approval was unlawful) or a
Widerruf (§ 49 VwVfG, it was lawful but may be revoked), and the clerk chooses which. It
interferes with the citizen's rights, so the citizen is heard first (§ 28 Abs. 1 VwVfG).

Decisions taken here where the issue is silent, as a Kreis's legal office would defend them:
- The hearing is modelled as a waiting period, not a case state: the clerk's first "Ablehnen"
  sends the hearing letter (mailbox and mail) with the intended decision, its reasons and a
  period of two weeks, opens a ``hearing`` task due at its end and sets ``waiting_for``; the
  case stays where it is (under review or objection). The withdrawal is refused until the
  period is over, then decided like any other decision. Two weeks is the period courts accept
  as adequate for a written hearing in a simple matter.
- A clerk may record that the hearing is dispensable (§ 28 Abs. 2 VwVfG, e.g. imminent danger)
  with the reason; the reason goes into the case log and the notice.
- A certificate that regulates nothing (regime ``no_administrative_act``, a Meldebescheinigung)
  is no administrative act: §§ 28, 48, 49 VwVfG do not apply. It is cancelled by a written
  notification (Aufhebung) with the reasons, and the old certificate shows as revoked at /verify.
- A service whose approval burdens the citizen (``approval_effect: burdening``, a tax) changes
  in the citizen's favour when the approval falls: no hearing, an ordinary new notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlmodel import Session, select

from backend.cases.lifecycle import message_facts
from backend.columns import utcnow
from backend.context import AppContext
from backend.definitions.models import ServiceDefinition
from backend.department.identity import ClerkIdentity
from backend.department.reasons import required_reason
from backend.documents.render import date_de, local_date
from backend.errors import Conflict, InvalidInput
from backend.notifications.messages import Bilingual, MessageText
from backend.records.audit import record_event
from backend.records.models import Case, CaseTask

HEARING_DAYS = 14
"""§ 28 Abs. 1 VwVfG names no period; two weeks for a written hearing (see module docstring)."""
Basis = Literal["ruecknahme", "widerruf"]
LEGAL_BASIS: dict[str, str] = {"ruecknahme": "§ 48 VwVfG", "widerruf": "§ 49 VwVfG"}


@dataclass(frozen=True)
class WithdrawalTerms:
    """What the clerk chose: Rücknahme or Widerruf, and why a hearing is dispensable (if so)."""

    basis: str | None = None
    hearing_dispensable: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"basis": self.basis, "hearing_dispensable": self.hearing_dispensable}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> WithdrawalTerms:
        value = value or {}
        return cls(value.get("basis"), value.get("hearing_dispensable"))


@dataclass(frozen=True)
class HearingStarted:
    """The hearing letter went out; the withdrawal may be decided after ``until``."""

    until: date


def is_certificate(definition: ServiceDefinition) -> bool:
    procedure = definition.procedure
    return procedure is not None and procedure.regime == "no_administrative_act"


def takes_back(definition: ServiceDefinition, case: Case, outcome: str) -> bool:
    """Whether deciding ``outcome`` takes a standing favourable decision back."""
    return (
        case.decided_at is not None
        and case.outcome == "approved"
        and outcome == "rejected"
        and definition.approval_effect == "favourable"
    )


def _check_terms(definition: ServiceDefinition, terms: WithdrawalTerms) -> WithdrawalTerms:
    if is_certificate(definition):
        return WithdrawalTerms()
    if terms.basis not in LEGAL_BASIS:
        raise InvalidInput(
            "Bitte wählen Sie Rücknahme (§ 48 VwVfG) oder Widerruf (§ 49 VwVfG). "
            "(Choose withdrawal under § 48 or revocation under § 49 VwVfG.)",
            details=[{"field": "withdrawal", "message": "ruecknahme or widerruf"}],
        )
    dispensable = None
    if terms.hearing_dispensable is not None and terms.hearing_dispensable.strip():
        dispensable = required_reason(terms.hearing_dispensable, field="hearing_dispensable")
    return WithdrawalTerms(terms.basis, dispensable)


def _open_hearing(session: Session, case_id: str) -> CaseTask | None:
    return session.exec(
        select(CaseTask).where(
            CaseTask.case_id == case_id, CaseTask.kind == "hearing", CaseTask.status == "open"
        )
    ).first()


def prepare(
    ctx: AppContext,
    session: Session,
    clerk: ClerkIdentity,
    definition: ServiceDefinition,
    case: Case,
    terms: WithdrawalTerms,
    reason: str,
) -> HearingStarted | dict[str, Any]:
    """Before a favourable decision is taken back: the hearing letter (then wait), or the
    withdrawal's record for the decision and its notice (hearing held, dispensed, or none
    required for a certificate)."""
    checked = _check_terms(definition, terms)
    if is_certificate(definition):
        return {"kind": "aufhebung", "legal_basis": None, "hearing": "not_required"}
    assert checked.basis is not None
    record: dict[str, Any] = {"kind": checked.basis, "legal_basis": LEGAL_BASIS[checked.basis]}
    if checked.hearing_dispensable is not None:
        record.update(hearing="dispensed", hearing_reason=checked.hearing_dispensable)
        hearing = _open_hearing(session, case.id)
        if hearing is not None:
            hearing.status, hearing.closed_at = "dispensed", utcnow()
            session.add(hearing)
        record_event(
            session,
            case.id,
            "hearing_dispensed",
            actor=clerk.actor.label,
            reason=checked.hearing_dispensable,
            payload={"legal_basis": "§ 28 Abs. 2 VwVfG"},
        )
        return record
    hearing = _open_hearing(session, case.id)
    today = local_date(utcnow())
    if hearing is None:
        return _start_hearing(ctx, session, clerk, case, checked, reason, today)
    assert hearing.due_on is not None
    if today <= hearing.due_on:
        raise Conflict(
            f"Die Anhörungsfrist läuft noch bis zum {date_de(hearing.due_on)} (§ 28 VwVfG). "
            f"(The hearing period runs until {hearing.due_on.isoformat()}.)"
        )
    hearing.status, hearing.closed_at = "done", utcnow()
    session.add(hearing)
    record.update(hearing="held", hearing_until=hearing.due_on.isoformat())
    return record


def _start_hearing(
    ctx: AppContext,
    session: Session,
    clerk: ClerkIdentity,
    case: Case,
    terms: WithdrawalTerms,
    reason: str,
    today: date,
) -> HearingStarted:
    """§ 28 Abs. 1 VwVfG: tell the citizen what is intended and why, and wait for an answer."""
    assert terms.basis is not None
    until = today + timedelta(days=HEARING_DAYS)
    task = CaseTask(
        case_id=case.id,
        department=case.department,
        kind="hearing",
        key=f"hearing:{utcnow().strftime('%Y%m%d%H%M%S%f')}",
        statement=reason,
        legal_basis="§ 28 Abs. 1 VwVfG",
        created_by=clerk.actor.label,
        due_on=until,
    )
    session.add(task)
    session.flush()
    record_event(
        session,
        case.id,
        "hearing_started",
        actor=clerk.actor.label,
        reason=reason,
        payload={
            "task": task.id,
            "until": until.isoformat(),
            "intended": terms.basis,
            "legal_basis": "§ 28 Abs. 1 VwVfG",
        },
    )
    case.waiting_for = f"Anhörung bis {date_de(until)} (§ 28 VwVfG)"
    session.add(case)
    from backend.notifications.service import post_message

    facts = message_facts(ctx, session, case)
    post_message(ctx, session, case, f"hearing:{task.id}", _letter(facts, terms, reason, until))
    return HearingStarted(until)


def _letter(facts: Any, terms: WithdrawalTerms, reason: str, until: date) -> MessageText:
    """The hearing letter: what is intended, on which basis, why, and until when to answer."""
    assert terms.basis is not None
    what_de = "zurückzunehmen" if terms.basis == "ruecknahme" else "zu widerrufen"
    what_en = "withdraw" if terms.basis == "ruecknahme" else "revoke"
    law = LEGAL_BASIS[terms.basis]
    return MessageText(
        "hearing",
        Bilingual(
            f"Anhörung zu Ihrem Bescheid {facts.reference}",
            f"Hearing on your notice {facts.reference}",
        ),
        Bilingual(
            f"Die Behörde beabsichtigt, den Bescheid zu Ihrem Antrag auf {facts.service_title.de} "
            f"{what_de} ({law}). Begründung: {reason} Sie können sich bis zum {date_de(until)} "
            "dazu äußern (§ 28 Abs. 1 VwVfG), schriftlich oder bei der Behörde. Erst danach "
            "wird entschieden; Sie erhalten dann einen Bescheid mit Begründung und "
            "Rechtsbehelfsbelehrung.",
            f"The authority intends to {what_en} the notice on your application for "
            f"{facts.service_title.en} ({law}). Reason given (in German): {reason} You may "
            f"comment until {until.isoformat()} (§ 28(1) VwVfG), in writing or at the "
            "authority. Only then will it decide; you will receive a notice with reasons and "
            "information on legal remedies.",
        ),
    )
