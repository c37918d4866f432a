"""What every console page needs: the clerk's login, checked form posts, and page rendering.

Contract for console pages (see docs/console.md, "Console skeleton for contributors"):
``clerk = await require_clerk(request)`` in a route, ``render(request, "console/x.html",
{...})`` to answer, ``form = await clerk_form(request)`` for a CSRF-checked post.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from backend.console.clerks import remember_clerk
from backend.db import ACTING_TENANT, tenant_wall_value
from backend.department.identity import ClerkIdentity, Permission
from backend.errors import Forbidden
from frontend.console import labels
from frontend.rendering import N_
from frontend.rendering import render as render_page
from frontend.web import LoginRequired, SessionExpired, checked_form, ctx_of, current, texts

OPTIONAL_PAGES = ("dashboard", "impact", "assisted", "designer")
"""Console page modules other areas contribute (frontend/console/<name>.py with build())."""


def has_page(name: str) -> bool:
    """Whether an optional console page module is installed in this tree."""
    return find_spec(f"frontend.console.{name}") is not None


def nav_items(clerk: ClerkIdentity | None = None) -> list[tuple[str, str]]:
    """(href, German label) of the console's main menu; a link is current when the page's
    path is its href or lies below it (the dashboard only on /console/ itself)."""
    if clerk is not None and clerk.can(Permission.OPERATE) and not clerk.can(Permission.VIEW):
        # The data centre's operator has one page; every department page would refuse them.
        return [("/console/operator", N_("Betrieb"))]
    items = [
        ("/console/", N_("Übersicht")),
        ("/console/worklist", N_("Arbeitsliste")),
        ("/console/worklist?assignee=me", N_("Meine Vorgänge")),
        ("/console/services", N_("Dienste und Automatisierung")),
        ("/console/qa", N_("Qualitätssicherung")),
        ("/console/absence", N_("Abwesenheit")),
        ("/console/settings", N_("Einstellungen")),
        ("/console/eakte", N_("E-Akte")),
        ("/console/payments", N_("Zahlungsabgleich")),
    ]
    if has_page("impact"):
        items.append(("/console/impact", N_("Wirkungsanalyse")))
    if has_page("assisted"):
        items.append(("/console/assisted", N_("Antrag am Schalter")))
    if has_page("designer") and (
        clerk is None or clerk.can(Permission.DESIGN) or clerk.can(Permission.PUBLISH_DEFINITIONS)
    ):
        items.append(("/console/designer", N_("Dienst-Designer")))
    return items


OPERATOR_PAGES = frozenset({"/console/operator", "/console/", "/console"})
"""What a login without the department view (the data centre's operator) may open; the
console's start page sends them on to /console/operator."""


async def require_clerk(request: Request) -> ClerkIdentity:
    """The logged-in member of a department; without a login the browser is sent to log in
    (the error handler turns the 401 into a redirect to /login?next=<this page>)."""
    active = await current(request)
    if active is None:
        if request.state.session_expired:
            raise SessionExpired(
                "Sie wurden aus Sicherheitsgründen abgemeldet. (You have been logged out.)"
            )
        raise LoginRequired("Bitte melden Sie sich an. (Please log in.)")
    if not active.identity.is_clerk:
        raise Forbidden(
            "Die Konsole ist nur für Beschäftigte der Fachbereiche. "
            "(The console is for department staff only.)"
        )
    clerk = ClerkIdentity.from_identity(active.identity)
    if not clerk.can(Permission.VIEW) and request.url.path not in OPERATOR_PAGES:
        clerk.require(Permission.VIEW)  # department pages are for the department
    # Before any query for the clerk: PostgreSQL's second wall (backend/db.py).
    # The data centre's operator sees counts across tenants and no case: no wall for them.
    if clerk.can(Permission.VIEW):
        ACTING_TENANT.set(tenant_wall_value(clerk.department))
    await run_in_threadpool(remember_clerk, ctx_of(request), clerk)
    request.state.clerk = clerk
    return clerk


async def clerk_form(request: Request) -> tuple[ClerkIdentity, dict[str, str]]:
    """A clerk's form post after its CSRF token matched: the clerk and the text fields."""
    clerk = await require_clerk(request)
    active = request.state.portal_session
    form = await checked_form(request, active)
    return clerk, texts(form)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A console page in the clerk's language, inside console/base.html's navigation."""
    clerk: ClerkIdentity | None = getattr(request.state, "clerk", None)
    return render_page(
        request,
        template,
        status_code=status_code,
        clerk=clerk,
        console_nav=nav_items(clerk),
        labels_department=labels.DEPARTMENT,
        search_q=request.query_params.get("q", "")[:200]
        if request.url.path == "/console/search"
        else "",
        Permission=Permission,
        **dict(context or {}),
    )
