"""The department's worklist: referred cases, review requests, objections, and cases waiting
for the citizen; filtered, sorted, paginated in the database, and exportable as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlmodel import Session, col, select

from backend.cases.incidents import has_open_incident
from backend.console.identity import ClerkIdentity
from backend.domain.case_state import CaseStatus
from backend.errors import InvalidInput
from backend.models import Case, CaseEvent, aware, utcnow
from backend.models_console import CaseAssignment, PendingDecision
from backend.models_engine import CaseTask
from backend.models_ops import Incident

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
)
AGES = {"1": 1, "3": 3, "7": 7, "30": 30}
"""Filter "older than N days" since submission."""
SORTS = {
    "oldest": (col(Case.submitted_at).asc(),),
    "newest": (col(Case.submitted_at).desc(),),
    "waiting": (col(Case.updated_at).asc(),),
    "service": (col(Case.service).asc(), col(Case.submitted_at).asc()),
    "status": (col(Case.status).asc(), col(Case.submitted_at).asc()),
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
    sort: str = "oldest"
    page: int = 1

    @classmethod
    def parse(cls, params: dict[str, Any]) -> WorklistFilter:
        """Query parameters as a filter; anything unknown is a clear 422, never a 500."""

        def pick(name: str) -> str | None:
            value = params.get(name)
            return str(value).strip() or None if value is not None else None

        problems = []
        reason, age, sort = pick("reason"), pick("age"), pick("sort") or "oldest"
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


def _base(clerk: ClerkIdentity, flt: WorklistFilter) -> Any:
    # An objection that was forwarded to the objection authority is no longer our work.
    open_clause = or_(
        col(Case.status).in_(
            [CaseStatus.REFERRED, CaseStatus.IN_REVIEW, CaseStatus.AWAITING_CITIZEN]
        ),
        and_(col(Case.status) == CaseStatus.OBJECTION, _task_exists("objection")),
        # A case that stopped moving is the department's work whatever its state (issue 14).
        has_open_incident(),
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
    elif flt.assignee:
        who = clerk.sub if flt.assignee == "me" else flt.assignee
        clauses.append(col(CaseAssignment.assignee) == who)
    return clauses


def _rows(
    session: Session, clerk: ClerkIdentity, flt: WorklistFilter, limit: int, offset: int
) -> list[tuple[Case, CaseAssignment | None]]:
    query = (
        select(Case, CaseAssignment)
        .join(CaseAssignment, col(CaseAssignment.case_id) == col(Case.id), isouter=True)
        .where(*_base(clerk, flt))
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
            )
        )
    return items


def worklist(session: Session, clerk: ClerkIdentity, flt: WorklistFilter) -> WorklistPage:
    total = session.exec(
        select(func.count())
        .select_from(Case)
        .join(CaseAssignment, col(CaseAssignment.case_id) == col(Case.id), isouter=True)
        .where(*_base(clerk, flt))
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
)


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
                )
            ]
        )
    return out.getvalue()
