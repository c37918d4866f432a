"""What the citizens' portal asks the console: is a service's automation paused right now?"""

from __future__ import annotations

from sqlmodel import Session

from backend.context import AppContext
from backend.department.automation import is_paused


def automation_paused(ctx: AppContext, service_id: str, tenant: str | None = None) -> bool:
    """The portal's service page tells citizens that decisions take longer while paused (at
    the office of the town whose page it is)."""
    department = ctx.definition(service_id, tenant=tenant).department
    with Session(ctx.engine) as session:
        return is_paused(session, service_id, department)
