"""What the catalogue and the place pages share: the visitor's chosen town and the page that
names the competent authority (issue 13, item 3; frontend/pages_places.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from backend.cases import applications as apps
from backend.cases.competence import NotCompetent, PlaceNeeded
from backend.errors import Forbidden
from backend.login.sessions import ActiveSession
from frontend.catalogue import TRUST_LEVELS
from frontend.rendering import render
from frontend.web import ctx_of

PLACE_COOKIE = "kd_place"
"""Holds a tenant id only: no personal data, so it needs no consent (§ 25 Abs. 2 TDDDG)."""


def place_choice(request: Request) -> str | None:
    """The tenant the visitor picked, if it is still served here."""
    chosen = request.cookies.get(PLACE_COOKIE, "")
    return chosen if chosen in ctx_of(request).tenancy.tenants else None


def not_competent_page(request: Request, exc: NotCompetent) -> Response:
    """Who is competent instead, with a way there when that authority is on this platform."""
    ctx = ctx_of(request)
    other = ctx.tenancy.tenants.get(exc.tenant) if exc.tenant else None
    return render(
        request,
        "not_competent.html",
        status_code=409,
        body=exc.body,
        other=other,
        service=ctx.catalogue.get(exc.service),
    )


async def start_and_route(
    request: Request, active: ActiveSession, slug: str, place: str | None
) -> Response:
    """Start a draft at the competent authority, or say who is competent, where to pick a
    place, or which login the service needs; never a draft at the wrong authority."""
    ctx = ctx_of(request)
    try:
        application = await apps.start_application(ctx, active.identity, slug, place)
    except PlaceNeeded:
        return RedirectResponse(f"/orte?service={slug}", status_code=303)
    except NotCompetent as exc:
        return not_competent_page(request, exc)
    except Forbidden:
        return render(
            request,
            "trust.html",
            status_code=403,
            service=ctx.catalogue.get(slug),
            trust_levels=TRUST_LEVELS,
        )
    return RedirectResponse(f"/applications/{application.id}", status_code=303)
