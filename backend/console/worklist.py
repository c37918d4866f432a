"""The department's worklist: referred cases, review requests, objections, and cases waiting
for the citizen; filtered, sorted, paginated in the database, and exportable as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlmodel import Session, col, select

from backend.cases.deadlines import Clock, clock_of, late_clause
from backend.cases.incidents import has_open_incident
from backend.columns import aware, utcnow
from backend.console.followup import (
    follow_up_due,
    overdue_clause,
    substituted_clause,
    today,
    untaetigkeit_mark,
)
from backend.console.models import CaseAssignment, CaseFollowUp, PendingDecision
from backend.department.identity import ClerkIdentity
from backend.domain.case_state import CaseStatus
from backend.errors import InvalidInput
from backend.records.models import Case, CaseEvent, CaseTask, Incident

OPEN_STATUSES = (
    CaseStatus.REFERRED,
    CaseStatus.IN_REVIEW,
    CaseStatus.AWAITING_CITIZEN,
    CaseStatus.OBJECTION,
)
"""Statuses in which a case is the department's work (its backlog)."""

REASONS = (
    "incident",
    "referred",
    "qa_sample",
    "human_review",
    "answer",
    "objection",
    "awaiting_citizen",
    "four_eyes",
    "follow_up",
    "overdue",
    "late",
)
AGES = {"1": 1, "3": 3, "7": 7, "30": 30}
"""Filter "older than N days" since submission."""
SORTS = {
    # Past the target first, then the nearest due day; paused clocks (waiting on the citizen)
    # and cases without a target after that.
    "deadline": (
        col(Case.clock_paused_at).is_not(None).asc(),
        col(Case.due_at).asc().nulls_last(),
        col(Case.submitted_at).asc(),
    ),
    "oldest": (col(Case.submitted_at).asc(),),
    "newest": (col(Case.submitted_at).desc(),),
    "waiting": (col(Case.updated_at).asc(),),
    "service": (col(Case.service).asc(), col(Case.submitted_at).asc()),
    "status": (col(Case.status).asc(), col(Case.submitted_at).asc()),
    # Due follow-ups first (earliest date first), then the oldest submission.
    "due": (
        select(col(CaseFollowUp.due_on))
        .where(col(CaseFollowUp.case_id) == col(Case.id))
        .scalar_subquery()
        .asc()
        .nulls_last(),
        col(Case.submitted_at).asc(),
    ),
}
PAGE_SIZE = 25
EXPORT_LIMIT = 10_000


@dataclass(frozen=True)
class WorklistFilter:
    service: str | None = None
    reason: str | None = None
    age: str | None = None
    assignee: str | None = None
    """'me', 'none', or a clerk's subject id."""
    sort: str = "deadline"
    page: int = 1

    @classmethod
    def parse(cls, params: dict[str, Any]) -> WorklistFilter:
        """Query parameters as a filter; anything unknown is a clear 422, never a 500."""

        def pick(name: str) -> str | None:
            value = params.get(name)
            return str(value).strip() or None if value is not None else None

        problems = []
        reason, age, sort = pick("reason"), pick("age"), pick("sort") or "deadline"
        if reason is not None and reason not in REASONS:
            problems.append({"field": "reason", "message": f"one of {', '.join(REASONS)}"})
        if age is not None and age not in AGES:
            problems.append({"field": "age", "message": f"one of {', '.join(AGES)}"})
        if sort not in SORTS:
            problems.append({"field": "sort", "message": f"one of {', '.join(SORTS)}"})
        page_text = pick("page") or "1"
        page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 100_000 else 0
        if page == 0:
            problems.append({"field": "page", "message": "a positive whole number"})
        if problems:
            raise InvalidInput("Ungültiger Filter. (Invalid filter.)", details=problems)
        return cls(pick("service"), reason, age, pick("assignee"), sort, page)


@dataclass
class WorkItem:
    case_id: str
    reference: str
    service: str
    status: str
    reasons: list[str]
    """Worklist reasons (REASONS) plus the engine's referral codes, e.g. registry_failure."""
    referral_reasons: list[str]
    submitted_at: datetime
    waiting_since: datetime
    assignee: str | None
    assignee_name: str | None
    due_on: Any = None
    tasks: list[str] = field(default_factory=list)
    applicant: str = ""
    """The addressee's name for the clerk's screen; left out of the CSV export on purpose
    (a download leaves the logged console, so it carries references, not names)."""
    follow_up_on: date | None = None
    follow_up_note: str = ""
    overdue: bool = False
    """Undecided three months after submission (§ 75 VwGO)."""
    clock: Clock = field(default_factory=lambda: Clock(None, False, None))
    """The service's target time to decision: due day, late, or paused while the citizen answers."""

    @property
    def age_days(self) -> int:
        return max(0, (utcnow() - self.submitted_at).days)


@dataclass
class WorklistPage:
    items: list[WorkItem]
    total: int
    page: int
    pages: int


def _task_exists(kind: str) -> Any:
    return exists().where(
        col(CaseTask.case_id) == col(Case.id),
        col(CaseTask.kind) == kind,
        col(CaseTask.status) == "open",
    )


def _reason_clause(reason: str) -> Any:
    if reason == "incident":
        return has_open_incident()
    if reason == "follow_up":
        return follow_up_due()
    if reason == "overdue":
        return overdue_clause()
    if reason == "late":
        return late_clause(utcnow())
    if reason == "referred":
        return col(Case.status) == CaseStatus.REFERRED
    if reason == "awaiting_citizen":
        return col(Case.status) == CaseStatus.AWAITING_CITIZEN
    if reason == "objection":
        return and_(col(Case.status) == CaseStatus.OBJECTION, _task_exists("objection"))
    if reason in ("human_review", "answer"):
        return and_(col(Case.status) == CaseStatus.IN_REVIEW, _task_exists(reason))
    if reason == "four_eyes":
        return exists().where(
            col(PendingDecision.case_id) == col(Case.id),
            col(PendingDecision.status) == "pending",
        )
    # qa_sample: the engine's referral event names its reasons.
    return and_(
        col(Case.status) == CaseStatus.REFERRED,
        exists().where(
            col(CaseEvent.case_id) == col(Case.id),
            col(CaseEvent.type) == "referred",
            col(CaseEvent.reason).contains("qa_sample"),
        ),
    )


def work_clauses(clerk: ClerkIdentity, flt: WorklistFilter) -> Any:
    # An objection that was forwarded to the objection authority is no longer our work.
    open_clause = or_(
        col(Case.status).in_(
            [CaseStatus.REFERRED, CaseStatus.IN_REVIEW, CaseStatus.AWAITING_CITIZEN]
        ),
        and_(col(Case.status) == CaseStatus.OBJECTION, _task_exists("objection")),
        # A case that stopped moving is the department's work whatever its state (issue 14).
        has_open_incident(),
        # So is a case whose follow-up date (Wiedervorlage) has come (issue 17).
        follow_up_due(),
    )
    clauses = [col(Case.department) == clerk.department, open_clause]
    if flt.service:
        clauses.append(col(Case.service) == flt.service)
    if flt.reason:
        clauses.append(_reason_clause(flt.reason))
    if flt.age:
        clauses.append(col(Case.submitted_at) < utcnow() - timedelta(days=AGES[flt.age]))
    if flt.assignee == "none":
        clauses.append(col(CaseAssignment.assignee).is_(None))
    elif flt.assignee == "me":
        # Mine: my own cases and those of colleagues I stand in for today.
        clauses.append(
            or_(
                col(CaseAssignment.assignee) == clerk.sub,
                col(CaseAssignment.assignee).in_(substituted_clause(clerk)),
            )
        )
    elif flt.assignee:
        clauses.append(col(CaseAssignment.assignee) == flt.assignee)
    return clauses


def _rows(
    session: Session, clerk: ClerkIdentity, flt: WorklistFilter, limit: int, offset: int
) -> list[tuple[Case, CaseAssignment | None]]:
    query = (
        select(Case, CaseAssignment)
        .join(CaseAssignment, col(CaseAssignment.case_id) == col(Case.id), isouter=True)
        .where(*work_clauses(clerk, flt))
        .order_by(*SORTS[flt.sort], col(Case.id))
        .limit(limit)
        .offset(offset)
    )
    return list(session.exec(query).all())


def _items(session: Session, rows: list[tuple[Case, CaseAssignment | None]]) -> list[WorkItem]:
    ids = [case.id for case, _ in rows]
    tasks: dict[str, list[CaseTask]] = {}
    pending: set[str] = set()
    failing: set[str] = set()
    if ids:
        failing = set(
            session.exec(
                select(Incident.case_id).where(
                    col(Incident.case_id).in_(ids), col(Incident.status).in_(["open", "retrying"])
                )
            ).all()
        )
        for task in session.exec(
            select(CaseTask).where(col(CaseTask.case_id).in_(ids), CaseTask.status == "open")
        ).all():
            tasks.setdefault(task.case_id, []).append(task)
        pending = set(
            session.exec(
                select(PendingDecision.case_id).where(
                    col(PendingDecision.case_id).in_(ids), PendingDecision.status == "pending"
                )
            ).all()
        )
    follow_ups = (
        {
            f.case_id: f
            for f in session.exec(
                select(CaseFollowUp).where(col(CaseFollowUp.case_id).in_(ids))
            ).all()
        }
        if ids
        else {}
    )
    overdue_from = datetime.combine(untaetigkeit_mark(today()) + timedelta(days=1), time.min, UTC)
    now = utcnow()
    items = []
    for case, assignment in rows:
        referral = list((case.decision or {}).get("referral_reasons") or [])
        kinds = [t.kind for t in tasks.get(case.id, [])]
        reasons: list[str] = ["incident"] if case.id in failing else []
        if case.status == CaseStatus.REFERRED:
            reasons.append("qa_sample" if "qa_sample" in referral else "referred")
        elif case.status == CaseStatus.AWAITING_CITIZEN:
            reasons.append("awaiting_citizen")
        reasons += [k for k in kinds if k in ("human_review", "answer", "objection")]
        if case.id in pending:
            reasons.append("four_eyes")
        follow = follow_ups.get(case.id)
        if follow is not None and follow.due_on <= today():
            reasons.append("follow_up")
        overdue = case.decided_at is None and aware(case.submitted_at) < overdue_from
        clock = clock_of(case, now)
        if clock.late:
            reasons.append("late")
        due = min((t.due_on for t in tasks.get(case.id, []) if t.due_on), default=None)
        items.append(
            WorkItem(
                case_id=case.id,
                reference=case.reference,
                service=case.service,
                status=case.status,
                reasons=reasons or [case.status],
                referral_reasons=referral if case.status == CaseStatus.REFERRED else [],
                submitted_at=aware(case.submitted_at),
                waiting_since=aware(case.updated_at),
                assignee=assignment.assignee if assignment else None,
                assignee_name=assignment.assignee_name if assignment else None,
                due_on=due,
                tasks=kinds,
                applicant=str(((case.data or {}).get("addressee") or {}).get("name") or ""),
                follow_up_on=follow.due_on if follow else None,
                follow_up_note=follow.note if follow else "",
                overdue=overdue,
                clock=clock,
            )
        )
    return items


def worklist(session: Session, clerk: ClerkIdentity, flt: WorklistFilter) -> WorklistPage:
    total = session.exec(
        select(func.count())
        .select_from(Case)
        .join(CaseAssignment, col(CaseAssignment.case_id) == col(Case.id), isouter=True)
        .where(*work_clauses(clerk, flt))
    ).one()
    pages = max(1, -(-int(total) // PAGE_SIZE))
    page = min(flt.page, pages)
    rows = _rows(session, clerk, flt, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return WorklistPage(_items(session, rows), int(total), page, pages)


def _safe_cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


CSV_COLUMNS = (
    "reference",
    "service",
    "status",
    "reasons",
    "referral_reasons",
    "submitted_at",
    "waiting_since",
    "age_days",
    "assignee",
    "due_on",
    "target_on",
    "target_state",
)


def target_state(clock: Clock) -> str:
    """The word for the target clock in the CSV and the JSON API: late, paused, running, or
    empty (decided)."""
    if clock.due_on is None:
        return ""
    if clock.paused_since is not None:
        return "paused"
    return "late" if clock.late else "running"


def worklist_csv(session: Session, clerk: ClerkIdentity, flt: WorklistFilter) -> str:
    """The whole filtered worklist (up to EXPORT_LIMIT rows): references and facts, no
    personal data of the citizen."""
    items = _items(session, _rows(session, clerk, flt, EXPORT_LIMIT, 0))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(
            [
                _safe_cell(v)
                for v in (
                    item.reference,
                    item.service,
                    item.status,
                    " ".join(item.reasons),
                    " ".join(item.referral_reasons),
                    item.submitted_at.isoformat(timespec="seconds"),
                    item.waiting_since.isoformat(timespec="seconds"),
                    str(item.age_days),
                    item.assignee_name or "",
                    item.due_on.isoformat() if item.due_on else "",
                    item.clock.due_on.isoformat() if item.clock.due_on else "",
                    target_state(item.clock),
                )
            ]
        )
    return out.getvalue()
