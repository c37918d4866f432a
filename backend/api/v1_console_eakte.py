"""Console JSON API for the E-Akte hand-over (xdomea 0605, backend/cases/eakte.py).

GET lists the department's hand-overs with the E-Akte's receipts (failed ones first); POST on
a case hands that closed case over now (or again after a failure); POST ``eakte/handover``
hands over every closed case of the department not yet filed (one batch). Another
department's case is 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlmodel import Session

from backend.api.console_deps import ClerkDep
from backend.api.deps import ContextDep
from backend.api.v1_console import ERRORS
from backend.cases import eakte
from backend.columns import aware
from backend.department.identity import Permission
from backend.records.models import EAkteHandover

router = APIRouter(prefix="/api/v1/console", tags=["console"])

CasePath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Case id (32 hex digits)")]


class HandoverOut(BaseModel):
    case_id: str
    reference: str
    service: str
    version: int = Field(description="Length of the case log when handed over")
    process_id: str = Field(description="xdomea ProzessID of the 0605 message")
    status: str = Field(description="pending, acknowledged or failed")
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed; for staff only")
    documents: int
    package_sha256: str
    ack_codes: str = Field(description="AllgemeineRueckmeldung codes of the E-Akte's 0630")
    ack_note: str
    acknowledged_at: datetime | None
    created_at: datetime


class ResultOut(BaseModel):
    case_id: str
    status: str = Field(description="acknowledged, pending (retried later), failed, or busy")
    process_id: str
    error: str | None


def _out(row: EAkteHandover) -> HandoverOut:
    """Timestamps with their zone (SQLite hands them back naive): RFC 3339 date-times."""
    data = row.model_dump()
    for key in ("acknowledged_at", "created_at"):
        if data.get(key) is not None:
            data[key] = aware(data[key])
    return HandoverOut.model_validate(data)


@router.get("/eakte", response_model=list[HandoverOut], responses=ERRORS)
def list_handovers(ctx: ContextDep, clerk: ClerkDep) -> list[HandoverOut]:
    """The department's hand-overs to the E-Akte, failed ones first, then newest."""
    clerk.require(Permission.VIEW)
    with Session(ctx.engine) as session:
        return [_out(r) for r in eakte.department_handovers(session, clerk.department)]


@router.post("/cases/{case_id}/eakte", response_model=ResultOut, responses=ERRORS)
def hand_over(ctx: ContextDep, clerk: ClerkDep, case_id: CasePath) -> ResultOut:
    """Hand one closed or withdrawn case over now; an acknowledged version is not resent."""
    result = eakte.clerk_hand_over(ctx, clerk, case_id)
    return ResultOut(
        case_id=result.case_id,
        status=result.status,
        process_id=result.process_id,
        error=result.error,
    )


@router.post("/eakte/handover", response_model=list[ResultOut], responses=ERRORS)
def hand_over_all(ctx: ContextDep, clerk: ClerkDep) -> list[ResultOut]:
    """Hand over the department's closed cases not yet filed (at most eakte_batch)."""
    return [
        ResultOut(case_id=r.case_id, status=r.status, process_id=r.process_id, error=r.error)
        for r in eakte.clerk_hand_over_all(ctx, clerk)
    ]
