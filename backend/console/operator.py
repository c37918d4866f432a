"""The data centre's view across tenants: health, queues, KPIs and configuration, no personal
data (issue 13, item 4).

An operator runs the platform for many towns; they must see which town's cases stop moving or
pile up, and which services each town has switched on, but never a citizen, a case file, a
reference or a clerk's work. Everything here is a count, an age or configuration; an operator's
department key matches no case, so every case route answers them 404 as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.columns import aware
from backend.context import AppContext
from backend.db import tenant_wall_value
from backend.department.identity import ClerkIdentity, Permission
from backend.records.models import Application, Case, Incident, KpiDecision

WAITING_STATES = ("submitted", "processing")
"""Cases the engine has yet to move (as /metrics counts its queue depth)."""

HOME = "-"
"""The home tenant's key in the counts: its rows carry no tenant."""


@dataclass
class TenantFigures:
    """One tenant's health and configuration, counts only."""

    tenant: str
    name: str
    ars: str
    land: str
    home: bool
    services: list[str]
    cases_by_status: dict[str, int] = field(default_factory=dict)
    waiting: int = 0
    oldest_waiting_s: float = 0.0
    open_incidents: int = 0
    drafts: int = 0
    decided_7d: int = 0
    automated_7d: int = 0


@dataclass
class OperatorOverview:
    """Every tenant, and the rows that belong to none (services no town decides)."""

    tenants: list[TenantFigures]
    unassigned: TenantFigures | None
    """Cases of services without `local:` on a platform without a home tenant."""


def operator_overview(ctx: AppContext, operator: ClerkIdentity) -> OperatorOverview:
    """Counts per tenant from a few grouped queries; refuses anyone without the operator role."""
    operator.require(Permission.OPERATE)
    tenancy = ctx.tenancy
    figures: dict[str, TenantFigures] = {}
    for tenant in sorted(tenancy.tenants.values(), key=lambda t: t.name):
        key = HOME if tenant.home else tenant.id
        figures[key] = TenantFigures(
            tenant=tenant.id,
            name=tenant.name,
            ars=tenant.ars,
            land=tenant.land,
            home=tenant.home,
            services=sorted(tenancy.activations.get(tenant.id, {})),
        )

    def row(key: str | None) -> TenantFigures:
        found = figures.get(key or HOME)
        if found is None:
            found = figures[key or HOME] = TenantFigures(
                tenant=key or "", name=key or "(ohne Mandant)", ars="", land="", home=False,
                services=[],
            )  # fmt: skip
        return found

    now = datetime.now(UTC)
    week_ago = now - timedelta(days=7)
    with Session(ctx.engine) as session:
        for owner, status, count in session.exec(
            select(Case.tenant, Case.status, func.count()).group_by(Case.tenant, Case.status)
        ).all():
            row(owner).cases_by_status[status] = count
        for owner, count, oldest in session.exec(
            select(Case.tenant, func.count(), func.min(Case.submitted_at))
            .where(col(Case.status).in_(WAITING_STATES))
            .group_by(Case.tenant)
        ).all():
            target = row(owner)
            target.waiting = count
            target.oldest_waiting_s = max((now - aware(oldest)).total_seconds(), 0.0)
        for owner, count in session.exec(
            select(Case.tenant, func.count())
            .join(Incident, col(Incident.case_id) == col(Case.id))
            .where(col(Incident.status).in_(["open", "retrying"]))
            .group_by(Case.tenant)
        ).all():
            row(owner).open_incidents = count
        for owner, count in session.exec(
            select(Application.tenant, func.count())
            .where(Application.status == "draft")
            .group_by(Application.tenant)
        ).all():
            row(owner).drafts = count
        for department, automated, count in session.exec(
            select(KpiDecision.department, KpiDecision.automated, func.count())
            .where(col(KpiDecision.issued_at) >= week_ago)
            .group_by(col(KpiDecision.department), col(KpiDecision.automated))
        ).all():
            wall = tenant_wall_value(department)
            target = row(None if wall == HOME else wall)
            target.decided_7d += count
            target.automated_7d += count if automated else 0
    home = figures.pop(HOME, None)
    ordered = sorted(figures.values(), key=lambda f: f.name)
    if home is not None and home.home:
        return OperatorOverview([home, *ordered], None)
    return OperatorOverview(ordered, home)
