"""Console JSON API for the dashboard figures and the impact analysis (/api/v1/console/...).

Every figure is computed for the department in the clerk's token; a department cannot be
asked for by parameter, so no clerk can read another department's numbers.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.api.console_deps import ClerkDep
from backend.api.deps import ContextDep
from backend.columns import utcnow
from backend.console import impact, kpis, operator
from backend.context import AppContext
from backend.department.identity import ClerkIdentity
from backend.errors import NotFound

router = APIRouter(prefix="/api/v1/console", tags=["console"])

WindowDays = Annotated[int, Query(ge=1, le=366, description="Days back for decisions, QA")]
SlaDays = Annotated[int, Query(ge=1, le=366, description="Processing target in days")]


def _row_json(row: kpis.ServiceKpis) -> dict[str, Any]:
    data = asdict(row)
    data["sla_breaches"] = row.sla_breaches
    data["qa"]["overturn_rate"] = row.qa.overturn_rate
    data["qa"]["alert"] = row.qa.alert
    return data


def figures_json(figures: kpis.DepartmentKpis) -> dict[str, Any]:
    return {
        "department": figures.department,
        "generated_at": figures.generated_at.isoformat(),
        "window_days": figures.window_days,
        "sla_days": figures.sla_days,
        "services": [_row_json(row) for row in figures.services],
        "total": _row_json(figures.total),
        "qa_alerts": figures.qa_alerts,
    }


def csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


INSIGHT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    403: {"description": "Not a clerk, or the role lacks the permission"},
    404: {"description": "Unknown service (or another department's)"},
    422: {"description": "Invalid input, with field-level details"},
}
"""Documented so /openapi.json states every answer (tests/security/test_api_fuzz.py)."""


@router.get("/kpis", responses=INSIGHT_ERRORS)
async def get_kpis(
    ctx: ContextDep,
    clerk: ClerkDep,
    window_days: WindowDays = kpis.DEFAULT_WINDOW_DAYS,
    sla_days: SlaDays = kpis.DEFAULT_SLA_DAYS,
) -> dict[str, Any]:
    """Key figures per service of the clerk's department, and the department's total."""
    figures = await run_in_threadpool(
        kpis.department_figures, ctx, clerk, window_days=window_days, sla_days=sla_days
    )
    return figures_json(figures)


@router.get(
    "/kpis.csv",
    response_class=Response,
    responses={**INSIGHT_ERRORS, 200: {"content": {"text/csv": {}}, "description": "CSV"}},
)
async def get_kpis_csv(
    ctx: ContextDep,
    clerk: ClerkDep,
    window_days: WindowDays = kpis.DEFAULT_WINDOW_DAYS,
    sla_days: SlaDays = kpis.DEFAULT_SLA_DAYS,
) -> Response:
    """The same figures as CSV."""
    figures = await run_in_threadpool(
        kpis.department_figures, ctx, clerk, window_days=window_days, sla_days=sla_days
    )
    return csv_response(kpis.figures_csv(figures), f"kennzahlen-{figures.department}.csv")


@router.get("/kpis/trend", responses=INSIGHT_ERRORS)
async def get_trend(
    ctx: ContextDep,
    clerk: ClerkDep,
    days: WindowDays = kpis.DEFAULT_WINDOW_DAYS,
    service: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Submissions and decisions (automated, manual) per German calendar day."""
    trend = await run_in_threadpool(kpis.department_trend, ctx, clerk, days=days, service=service)
    return {
        "department": clerk.department,
        "service": service,
        "days": [
            {
                "day": d.day.isoformat(),
                "submitted": d.submitted,
                "automated": d.automated,
                "manual": d.manual,
            }
            for d in trend
        ],
    }


class ImpactRequest(BaseModel):
    """A draft of a service definition (the complete service.yaml) to replay cases under."""

    service: str = Field(max_length=64)
    definition: str = Field(max_length=impact.MAX_DRAFT_BYTES)
    days: int = Field(default=30, ge=1, le=impact.MAX_DAYS)
    as_of: date | None = None


def run_impact(
    ctx: AppContext,
    clerk: ClerkIdentity,
    service: str,
    text: str,
    days: int,
    as_of: date | None,
) -> impact.ImpactReport:
    """Validate the draft, then replay; refuses before loading anything for a non-supervisor."""
    impact.require_supervisor(clerk)
    if service not in ctx.catalogue or ctx.catalogue.get(service).department != clerk.department:
        raise NotFound("Diesen Dienst gibt es nicht. (Unknown service.)")
    draft = impact.load_draft(ctx.catalogue, ctx.connectors, service, text)
    with Session(ctx.engine) as session:
        return impact.analyse_impact(
            session, clerk, ctx.catalogue, service, draft, days=days, now=utcnow(), as_of=as_of
        )


def report_json(report: impact.ImpactReport) -> dict[str, Any]:
    return {
        "service": report.service,
        "live_version": report.live_version,
        "draft_version": report.draft_version,
        "days": report.days,
        "as_of": report.as_of.isoformat() if report.as_of else None,
        "replayed": report.replayed,
        "changed": len(report.changed),
        "unchanged": report.unchanged,
        "drifted": report.drifted,
        "transitions": report.transitions,
        "rules": report.rules,
        "cases": [
            {
                "case_id": c.case_id,
                "reference": c.reference,
                "submitted_at": c.submitted_at.isoformat(),
                "reference_date": c.reference_date.isoformat(),
                "stored_outcome": c.stored_outcome,
                "before": {"outcome": c.before_outcome, "amounts": _amounts(c.before_amounts)},
                "after": {"outcome": c.after_outcome, "amounts": _amounts(c.after_amounts)},
                "rules": c.rules,
            }
            for c in report.changed
        ],
    }


def _amounts(values: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in values.items()}


@router.post("/impact", responses=INSIGHT_ERRORS)
async def post_impact(ctx: ContextDep, clerk: ClerkDep, body: ImpactRequest) -> dict[str, Any]:
    """Replay the service's recent cases under a draft definition; nothing is stored."""
    report = await run_in_threadpool(
        run_impact, ctx, clerk, body.service, body.definition, body.days, body.as_of
    )
    return report_json(report)


@router.get("/operator", responses=INSIGHT_ERRORS)
async def get_operator_overview(ctx: ContextDep, clerk: ClerkDep) -> dict[str, Any]:
    """The data centre's view across tenants: counts and configuration, no personal data."""
    overview = await run_in_threadpool(operator.operator_overview, ctx, clerk)
    return {
        "tenants": [asdict(figures) for figures in overview.tenants],
        "unassigned": asdict(overview.unassigned) if overview.unassigned else None,
    }
