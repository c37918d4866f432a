"""QA sampling: the machine's decisions, picked at random at the service's sample rate, are
checked by a person, and the share they overturn is a KPI with an alert.

Decision (issue 6 is silent on when): the sample is taken *before* the decision is issued.
The engine refers a sampled case with reason ``qa_sample`` and keeps the machine's result as
``proposed_outcome``; the clerk confirms it or decides otherwise, and only then is the notice
issued. Reviewing after issue would mean revoking a lawful administrative act
(§§ 48, 49 VwVfG, with the citizen's protection of legitimate expectations) for every
overturn; checking first gives the same measurement without that harm. Every finding is one
``qa_reviews`` row: the machine's outcome, the final one, who, why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from backend.console.models import QaReview
from backend.records.models import Case

QA_ALERT_THRESHOLD = 0.05
"""Above 5 % overturned, the machine's rules deserve a look before more cases are decided."""
QA_MIN_REVIEWED = 5
"""Below this many findings a rate says little; no alert is raised on it."""


@dataclass(frozen=True)
class OverturnRate:
    reviewed: int
    overturned: int

    @property
    def rate(self) -> float | None:
        return self.overturned / self.reviewed if self.reviewed else None

    @property
    def alert(self) -> bool:
        return (
            self.reviewed >= QA_MIN_REVIEWED
            and self.rate is not None
            and self.rate > QA_ALERT_THRESHOLD
        )


def qa_overturn_rate(
    session: Session,
    department: str,
    service_id: str | None = None,
    since: datetime | None = None,
) -> OverturnRate:
    """Share of QA-sampled machine decisions a person overturned, per department (and service)."""
    query = select(
        func.count(),
        func.coalesce(func.sum(case((col(QaReview.overturned).is_(True), 1), else_=0)), 0),
    ).where(QaReview.department == department)
    if service_id is not None:
        query = query.where(QaReview.service == service_id)
    if since is not None:
        query = query.where(col(QaReview.at) >= since)
    reviewed, overturned = session.exec(query).one()
    return OverturnRate(int(reviewed or 0), int(overturned or 0))


def is_qa_sample(case: Case) -> bool:
    """The engine referred the case only or also because the QA sample picked it."""
    decision = case.decision or {}
    return "qa_sample" in (decision.get("referral_reasons") or [])


def record_finding(
    session: Session, case: Case, *, clerk_sub: str, final_outcome: str, reason: str
) -> QaReview | None:
    """Store the finding when a sampled case is decided; None for a case outside the sample."""
    decision = case.decision or {}
    machine = decision.get("proposed_outcome")
    if not is_qa_sample(case) or machine not in ("approved", "rejected"):
        return None
    existing = session.exec(select(QaReview).where(QaReview.case_id == case.id)).first()
    if existing is not None:
        return existing
    row = QaReview(
        case_id=case.id,
        department=case.department,
        service=case.service,
        machine_outcome=machine,
        final_outcome=final_outcome,
        overturned=machine != final_outcome,
        clerk=clerk_sub,
        reason=reason,
    )
    session.add(row)
    session.flush()
    return row


def record_overturn(
    session: Session,
    case: Case,
    *,
    machine_outcome: str,
    clerk_sub: str,
    final_outcome: str,
    reason: str,
    via: str,
) -> QaReview | None:
    """A machine decision a person overturned after review or objection is a finding too.

    The sample measures the machine's error rate before issue; a citizen's Art. 22 review or
    Widerspruch that changes the outcome is the same error, found later, and must not be left
    out of the rate. A sampled case whose confirmation is later overturned counts once.
    """
    if machine_outcome not in ("approved", "rejected") or machine_outcome == final_outcome:
        return None
    text = f"{via}: {reason}"
    existing = session.exec(select(QaReview).where(QaReview.case_id == case.id)).first()
    if existing is not None:
        existing.final_outcome, existing.overturned = final_outcome, True
        existing.clerk, existing.reason = clerk_sub, text
        session.add(existing)
        return existing
    row = QaReview(
        case_id=case.id,
        department=case.department,
        service=case.service,
        machine_outcome=machine_outcome,
        final_outcome=final_outcome,
        overturned=True,
        clerk=clerk_sub,
        reason=text,
    )
    session.add(row)
    session.flush()
    return row


REVIEW_FINDING = "Überprüfung durch eine Person (Art. 22 Abs. 3 DSGVO)"
OBJECTION_FINDING = "Abhilfe im Widerspruchsverfahren (§ 72 VwGO)"


def recent_findings(session: Session, department: str, limit: int = 50) -> list[QaReview]:
    return list(
        session.exec(
            select(QaReview)
            .where(QaReview.department == department)
            .order_by(col(QaReview.at).desc())
            .limit(limit)
        ).all()
    )
