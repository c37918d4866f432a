"""Find any case (issue 17, item 2): by reference number, applicant name or date of birth,
within the clerk's department only; every hit shown is logged like a case-file read, so the
citizen sees it in the data cockpit (§ 10 OZG). The index is backend.cases.search_index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.cases.search_index import birth_date, digest, name_words
from backend.columns import aware
from backend.department.access import check_purpose, log_case_read
from backend.department.identity import ClerkIdentity
from backend.errors import InvalidInput
from backend.records.models import Case, CaseSearchTerm

MAX_QUERY = 200
MAX_RESULTS = 50


@dataclass(frozen=True)
class Hit:
    case_id: str
    reference: str
    service: str
    status: str
    applicant: str
    submitted_at: datetime


@dataclass(frozen=True)
class Query:
    text: str
    service: str = ""
    status: str = ""

    @classmethod
    def parse(
        cls, text: str | None, service: str | None = None, status: str | None = None
    ) -> Query:
        value = " ".join((text or "").split())
        if len(value) > MAX_QUERY:
            raise InvalidInput(
                f"Bitte höchstens {MAX_QUERY} Zeichen. (At most {MAX_QUERY} characters.)",
                details=[{"field": "q", "message": f"at most {MAX_QUERY} characters"}],
            )
        return cls(value, (service or "")[:64], (status or "")[:24])


def _reference(text: str) -> str | None:
    """A reference as a citizen reads it on the phone ("kd 2026 abcd efgh", or only its last
    eight characters): spaces, dashes, dots and case do not matter."""
    compact = re.sub(r"[^A-Z0-9]", "", text.upper())
    return compact if 8 <= len(compact) <= 24 else None


def search(session: Session, clerk: ClerkIdentity, query: Query, purpose: str) -> list[Hit]:
    """Cases of the clerk's department that match; each hit shown is logged as a read."""
    code = check_purpose(purpose)
    if not query.text and not (query.service or query.status):
        return []
    stmt = select(Case).where(Case.department == clerk.department)
    if query.service:
        stmt = stmt.where(Case.service == query.service)
    if query.status:
        stmt = stmt.where(Case.status == query.status)
    if query.text:
        reference = _reference(query.text)
        born = birth_date(query.text)
        if born:
            digests = [digest("born", born)]
        else:
            words = name_words(query.text)
            digests = sorted({digest("name", w) for w in words})
        if not digests and reference is None:
            return []
        matching = (
            select(CaseSearchTerm.case_id)
            .where(
                CaseSearchTerm.department == clerk.department,
                col(CaseSearchTerm.digest).in_(digests),
            )
            .group_by(col(CaseSearchTerm.case_id))
            .having(func.count(func.distinct(CaseSearchTerm.digest)) == len(digests))
        )
        # Only A-Z and 0-9 remain in `reference`, so it cannot carry a LIKE wildcard.
        by_reference = (
            func.replace(func.upper(Case.reference), "-", "").like(f"%{reference}")
            if reference
            else None
        )
        if digests and by_reference is not None:
            stmt = stmt.where((col(Case.id).in_(matching)) | by_reference)
        elif digests:
            stmt = stmt.where(col(Case.id).in_(matching))
        elif by_reference is not None:
            stmt = stmt.where(by_reference)
    cases = session.exec(stmt.order_by(col(Case.submitted_at).desc()).limit(MAX_RESULTS)).all()
    hits = []
    for case in cases:
        # The hit list shows the applicant's name: a read of personal data (§ 10 OZG cockpit).
        log_case_read(session, clerk, case, code, what="Suchtreffer (Name, Aktenzeichen)")
        hits.append(
            Hit(
                case_id=case.id,
                reference=case.reference,
                service=case.service,
                status=case.status,
                applicant=str(((case.data or {}).get("addressee") or {}).get("name") or ""),
                submitted_at=aware(case.submitted_at),
            )
        )
    return hits


def applicants(session: Session, case_ids: Iterable[str]) -> dict[str, str]:
    """The applicant's name per case, for the worklist's column (the clerk's own department)."""
    ids = list(case_ids)
    if not ids:
        return {}
    rows = session.exec(select(Case).where(col(Case.id).in_(ids))).all()
    return {c.id: str(((c.data or {}).get("addressee") or {}).get("name") or "") for c in rows}
