"""Console JSON API for incidents: cases that stopped moving, and the clerk's two ways out.

GET lists the department's incidents (open ones by default); ``retry`` runs the failed workflow
again once its cause is fixed; ``take-over`` hands the case to the clerk with a note. Another
department's incident is 404, as if it did not exist (backend/cases/incidents.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from backend.api.console_deps import ClerkDep
from backend.api.deps import ContextDep
from backend.api.v1_console import ERRORS, Reason
from backend.cases import incidents

router = APIRouter(prefix="/api/v1/console", tags=["console"])

IncidentPath = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="Incident id (32 hex digits)")
]


class IncidentOut(BaseModel):
    id: str
    case_id: str
    reference: str
    service: str
    stage: str = Field(description="decide, payment, writeback, documents, notify, handover, "
                       "or overdue (found by the watchdog)")  # fmt: skip
    case_status: str = Field(description="The case's status when the incident was raised")
    reason: str = Field(description="Technical reason; for staff only, never shown to citizens")
    raised_by: str
    raised_at: datetime
    status: str = Field(description="open, retrying or resolved")
    retries: int
    resolution: str | None
    resolved_by: str | None
    note: str | None


class TakeOverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Reason


def _out(view: incidents.IncidentView) -> IncidentOut:
    return IncidentOut.model_validate(view.as_json())


@router.get("/incidents", response_model=list[IncidentOut], responses=ERRORS)
def list_incidents(ctx: ContextDep, clerk: ClerkDep, resolved: bool = False) -> list[IncidentOut]:
    """The department's incidents, newest first; ``resolved=true`` includes settled ones."""
    with Session(ctx.engine) as session:
        return [
            _out(v) for v in incidents.department_incidents(session, clerk, open_only=not resolved)
        ]


@router.post("/incidents/{incident_id}/retry", response_model=IncidentOut, responses=ERRORS)
def retry(ctx: ContextDep, clerk: ClerkDep, incident_id: IncidentPath) -> IncidentOut:
    row = incidents.retry_incident(ctx, clerk, incident_id)
    with Session(ctx.engine) as session:
        return _out(
            next(v for v in incidents.case_incidents(session, row.case_id) if v.id == row.id)
        )


@router.post("/incidents/{incident_id}/take-over", response_model=IncidentOut, responses=ERRORS)
def take_over(
    ctx: ContextDep, clerk: ClerkDep, incident_id: IncidentPath, body: TakeOverBody
) -> IncidentOut:
    row = incidents.take_over(ctx, clerk, incident_id, body.note)
    with Session(ctx.engine) as session:
        return _out(
            next(v for v in incidents.case_incidents(session, row.case_id) if v.id == row.id)
        )
