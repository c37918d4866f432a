"""The automation switch per service: a supervisor pauses or resumes it, with a reason.

While a service is paused, the engine refers every new case with reason
``automation_paused`` (backend/cases/processing.py asks ``is_paused``) and the portal tells
citizens that decisions take longer. The switch is a history; its newest row is in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from backend.columns import aware
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import ServiceDefinition
from backend.department.identity import ClerkIdentity, Permission
from backend.department.models import AutomationSwitch
from backend.department.reasons import required_reason
from backend.errors import Conflict, NotFound


def latest_switch(session: Session, service_id: str, department: str) -> AutomationSwitch | None:
    """The switch in force for one service at one office: the department key carries the
    tenant (backend/tenants/models.py), so Köln pausing its parking permit leaves Bergheim's
    running."""
    return session.exec(
        select(AutomationSwitch)
        .where(AutomationSwitch.service == service_id, AutomationSwitch.department == department)
        .order_by(col(AutomationSwitch.at).desc(), col(AutomationSwitch.id).desc())
    ).first()


def is_paused(session: Session, service_id: str, department: str) -> bool:
    """Whether a supervisor of that office has stopped automated decisions for the service."""
    row = latest_switch(session, service_id, department)
    return bool(row and row.paused)


@dataclass(frozen=True)
class SwitchState:
    service: ServiceDefinition
    automated: bool
    """The definition allows automated decisions at all (a legal basis, § 35a VwVfG)."""
    paused: bool
    since: datetime | None
    reason: str | None
    by: str | None


def switch_states(session: Session, services: Iterable[ServiceDefinition]) -> list[SwitchState]:
    states = []
    for definition in services:
        row = latest_switch(session, definition.id, definition.department)
        states.append(
            SwitchState(
                service=definition,
                automated=bool(definition.automation.legal_basis),
                paused=bool(row and row.paused),
                since=aware(row.at) if row else None,
                reason=row.reason if row else None,
                by=row.actor_name if row else None,
            )
        )
    return states


def switch_history(
    session: Session, service_id: str, department: str, limit: int = 20
) -> list[AutomationSwitch]:
    return list(
        session.exec(
            select(AutomationSwitch)
            .where(
                AutomationSwitch.service == service_id, AutomationSwitch.department == department
            )
            .order_by(col(AutomationSwitch.at).desc(), col(AutomationSwitch.id).desc())
            .limit(limit)
        ).all()
    )


def set_paused(
    ctx: AppContext, clerk: ClerkIdentity, service_id: str, *, paused: bool, reason: str | None
) -> AutomationSwitch:
    """Pause or resume; refused for another department's service (404) and without a reason."""
    clerk.require(Permission.SWITCH_AUTOMATION)
    text = required_reason(reason)
    if service_id not in {d.id for d in ctx.department_services(clerk.department)}:
        raise NotFound("Diesen Dienst gibt es nicht. (Service not found.)")
    with unit_of_work(ctx.engine) as session:
        if is_paused(session, service_id, clerk.department) == paused:
            raise Conflict(
                "Die Automatisierung ist bereits angehalten. (Automation is already paused.)"
                if paused
                else "Die Automatisierung läuft bereits. (Automation is already running.)"
            )
        row = AutomationSwitch(
            service=service_id,
            department=clerk.department,
            paused=paused,
            reason=text,
            actor=clerk.actor.label,
            actor_name=clerk.name,
        )
        session.add(row)
        session.flush()
        return row
