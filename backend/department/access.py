"""Department isolation and the access log: a clerk reaches only their department's cases,
and every read of a case file is written down with the clerk's id and purpose."""

from __future__ import annotations

import re

from sqlmodel import Session

from backend.context import AppContext
from backend.definitions.models import ServiceDefinition
from backend.department.identity import ClerkIdentity
from backend.errors import InvalidInput, NotFound
from backend.records.models import Case, RegistryAccess

CASE_FILE = "Fallakte"
"""Registry id of a case-file read in the access log; the data cockpit shows it as such."""

PURPOSES: dict[str, str] = {
    "bearbeitung": "Bearbeitung des Antrags durch die zuständige Stelle",
    "qa": "Qualitätssicherung (Stichprobe automatisierter Entscheidungen)",
    "widerspruch": "Prüfung eines Widerspruchs (§ 72 VwGO)",
    "ueberpruefung": "Überprüfung durch eine Person (Art. 22 Abs. 3 DSGVO)",
    "aufsicht": "Fach- und Dienstaufsicht",
}
"""Why a clerk opens a case file; the German text is what the citizen's cockpit shows."""

_ID = re.compile(r"^[0-9a-f]{32}$")
_NOT_FOUND = "Diesen Vorgang gibt es nicht. (Case not found.)"


def department_services(ctx: AppContext, department: str) -> list[ServiceDefinition]:
    """The services the department owns, by German title, as its authority offers them: a
    department key names its tenant (backend/tenants/models.py), so Bergheim's office gets
    Bergheim's parking permit and Köln's its own."""
    return ctx.department_services(department)


def department_case(session: Session, clerk: ClerkIdentity, case_id: str) -> Case:
    """The case if it belongs to the clerk's department; otherwise 404, never its data (a
    clerk must not even learn that another department's case id exists)."""
    if not _ID.match(case_id or ""):
        raise NotFound(_NOT_FOUND)
    case = session.get(Case, case_id)
    if case is None or case.department != clerk.department:
        raise NotFound(_NOT_FOUND)
    return case


def check_purpose(purpose: str | None) -> str:
    code = purpose or "bearbeitung"
    if code not in PURPOSES:
        raise InvalidInput(
            "Unbekannter Zweck. (Unknown purpose.)",
            details=[{"field": "purpose", "message": f"one of {', '.join(PURPOSES)}"}],
        )
    return code


def log_case_read(
    session: Session, clerk: ClerkIdentity, case: Case, purpose: str, *, what: str = CASE_FILE
) -> None:
    """One row per read, in the caller's transaction; names what was read, never values."""
    code = check_purpose(purpose)
    session.add(
        RegistryAccess(
            subject_sub=case.citizen_sub,
            registry_id=CASE_FILE,
            attributes_requested=[what],
            attributes_returned=[what],
            purpose=PURPOSES[code],
            # Art. 6 Abs. 1 lit. e DSGVO with the service's own legal basis: the department
            # reads the file to perform the task the citizen applied for.
            legal_basis="Art. 6 Abs. 1 lit. e DSGVO",
            service=case.service,
            application_id=case.application_id,
            case_id=case.id,
            actor=clerk.actor.label,
            outcome="ok",
        )
    )
