"""The department's staff from the identity provider's directory (issue 17, item 3), read over
SCIM 2.0 (RFC 7644 `GET /Users`, RFC 7643 User with the enterprise extension's `department`),
so assignment and absences list every colleague, also those who never logged in, and the case
log names clerks long after their last login. A person the directory stops listing is marked
inactive (kept, since the case log still names them) and leaves the colleague lists.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.department.models import ConsoleClerk
from backend.periodic import Periodic
from backend.secret_files import create_once
from backend.settings import Settings
from backend.tenants.models import DEPARTMENT_SEPARATOR

log = logging.getLogger("knopfdruck.directory")

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PAGE = 100
MAX_PAGES = 200
KNOWN_ROLES = frozenset({"clerk", "supervisor", "designer"})
"""Console roles the staff directory may grant; a designer (issue 15) is staff like any other,
though colleagues() offers only those who work cases as assignees."""
SANDBOX_TOKEN_FILE = "scim-token"


class DirectoryError(RuntimeError):
    """The directory could not be read or answered something that is not SCIM."""


@dataclass(frozen=True)
class StaffMember:
    sub: str
    name: str
    department: str
    roles: tuple[str, ...]
    email: str | None = None


@dataclass(frozen=True)
class SyncReport:
    listed: int
    added: int
    updated: int
    deactivated: int


def directory_endpoint(settings: Settings) -> tuple[str, str] | None:
    """(base URL, token) of the directory, or None when there is none to read."""
    if settings.staff_directory_url:
        return settings.staff_directory_url.rstrip("/"), settings.staff_directory_token
    if settings.sandbox:
        base = f"{settings.base_url.rstrip('/')}/sandbox/idp/scim/v2"
        return base, sandbox_directory_token(settings.data_dir)
    return None


def sandbox_directory_token(data_dir: Path) -> str:
    """The sandbox directory's bearer token, generated once into the data directory (0600);
    knopfdruck hands it to the sandbox's SCIM router, the console reads it here."""
    made = create_once(data_dir / SANDBOX_TOKEN_FILE, lambda: secrets.token_urlsafe(32).encode())
    return made.decode("ascii").strip()


def _member(resource: Any) -> StaffMember | None:
    """One SCIM User as a staff member; None for users who are no department's staff."""
    if not isinstance(resource, dict) or USER_SCHEMA not in (resource.get("schemas") or []):
        raise DirectoryError("a resource is not a SCIM User")
    sub, active = resource.get("id"), resource.get("active", True)
    enterprise = resource.get(ENTERPRISE_SCHEMA) or {}
    department, organization = enterprise.get("department"), enterprise.get("organization")
    if not isinstance(sub, str) or not 0 < len(sub) <= 128:
        raise DirectoryError("a User has no usable id")
    if active is not True or not isinstance(department, str) or not department:
        return None
    if DEPARTMENT_SEPARATOR in department:
        return None  # a key is made here, never sent (as for the login's claims)
    if isinstance(organization, str) and organization:
        # A tenant other than the home one (issue 13): its staff's department key names it,
        # as their logins' do, so no town lists another town's clerks as colleagues.
        department = f"{organization}{DEPARTMENT_SEPARATOR}{department}"
    name_part = resource.get("name") or {}
    name = resource.get("displayName") or name_part.get("formatted") or resource.get("userName")
    roles = tuple(
        r["value"]
        for r in resource.get("roles") or []
        if isinstance(r, dict) and r.get("value") in KNOWN_ROLES
    )
    if not isinstance(name, str) or not name.strip() or not roles:
        return None
    emails = [e for e in resource.get("emails") or [] if isinstance(e, dict)]
    chosen = next((e for e in emails if e.get("primary")), emails[0] if emails else {})
    email = chosen.get("value")
    valid = isinstance(email, str) and 3 <= len(email) <= 254 and "@" in email
    return StaffMember(sub, name.strip()[:200], department[:64], roles, email if valid else None)


def read_directory(
    base: str, token: str, *, client: httpx.Client | None = None
) -> list[StaffMember]:
    """Every active staff member the directory lists, page by page."""
    own = client is None
    http = client or httpx.Client(timeout=15)
    members: list[StaffMember] = []
    try:
        start = 1
        for _ in range(MAX_PAGES):
            try:
                answer = http.get(
                    f"{base}/Users",
                    params={"startIndex": start, "count": PAGE, "filter": "active eq true"},
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json"},
                )
            except httpx.HTTPError as exc:
                raise DirectoryError(f"directory unreachable: {type(exc).__name__}") from None
            if answer.status_code != 200:
                raise DirectoryError(f"directory answered HTTP {answer.status_code}")
            body = answer.json()
            resources = body.get("Resources") or []
            members += [m for m in (_member(r) for r in resources) if m is not None]
            total = int(body.get("totalResults") or 0)
            start += len(resources)
            if not resources or start > total:
                return members
        raise DirectoryError("directory has more pages than allowed")
    except ValueError as exc:
        raise DirectoryError(f"directory answered no SCIM JSON: {type(exc).__name__}") from None
    finally:
        if own:
            http.close()


def apply_directory(ctx: AppContext, members: list[StaffMember]) -> SyncReport:
    """Upsert the listed staff; mark directory staff no longer listed as inactive."""
    added = updated = deactivated = 0
    listed = {m.sub: m for m in members}
    with unit_of_work(ctx.engine) as session:
        rows = {r.sub: r for r in session.exec(select(ConsoleClerk)).all()}
        for sub, member in listed.items():
            row = rows.get(sub)
            if row is None:
                session.add(
                    ConsoleClerk(
                        sub=sub,
                        name=member.name,
                        department=member.department,
                        roles=list(member.roles),
                        last_seen=utcnow(),
                        active=True,
                        in_directory=True,
                        email=member.email,
                    )
                )
                added += 1
                continue
            before = (
                row.name,
                row.department,
                list(row.roles),
                row.active,
                row.in_directory,
                row.email,
            )
            row.name, row.department, row.roles = member.name, member.department, list(member.roles)
            row.active, row.in_directory, row.email = True, True, member.email
            if before != (row.name, row.department, list(row.roles), True, True, row.email):
                session.add(row)
                updated += 1
        for sub, row in rows.items():
            if row.in_directory and row.active and sub not in listed:
                row.active = False
                session.add(row)
                deactivated += 1
    return SyncReport(len(listed), added, updated, deactivated)


def sync_directory(ctx: AppContext) -> SyncReport | None:
    """Read the configured directory and apply it; None when no directory is configured."""
    endpoint = directory_endpoint(ctx.settings)
    if endpoint is None:
        return None
    return apply_directory(ctx, read_directory(*endpoint))


def directory_schedule(ctx: AppContext) -> Periodic:
    """Reads the directory every `staff_directory_interval_s` in a worker process (first soon
    after start, when the web process serving a sandbox directory is up)."""
    configured = directory_endpoint(ctx.settings) is not None
    interval = ctx.settings.staff_directory_interval_s if configured else 0
    return Periodic("directory", interval, lambda: _sync_and_log(ctx), first_s=30)


def _sync_and_log(ctx: AppContext) -> None:
    report = sync_directory(ctx)
    if report is not None and (report.added or report.deactivated):
        log.info(
            "staff directory: %d listed, %d added, %d deactivated",
            report.listed,
            report.added,
            report.deactivated,
        )
