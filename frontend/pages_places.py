"""Places: the place picker and each authority's own catalogue under `/<tenant>/` (issue 13).

A visitor picks a town by postcode or name (`/orte`); the choice is kept in a cookie that
holds only the tenant's id (no personal data, so no consent is needed) and every tenant has its
own address, `/<tenant>/`, so a town can link its services from its own web site. A logged-in
citizen is routed by the residence the Melderegister holds (backend/cases/competence.py); a
place chosen here never overrides that.

These routes are registered last (frontend/portal.py): `/{tenant}` would otherwise shadow
`/cases`, `/services` and the other top-level pages. A tenant id that is one of those words is
refused by `knopfdruck tenants validate` (backend/tenants/models.py, RESERVED_IDS).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.cases.catalogue_views import ServiceView, service_view
from backend.cases.drafts import my_drafts
from backend.context import AppContext
from backend.definitions.models import ServiceDefinition
from backend.errors import NotFound
from backend.tenants.models import RESERVED_IDS, Tenant
from backend.tenants.routing import tenants_for_postcode
from frontend.catalogue import TRUST_LEVELS
from frontend.console.portal_notice import automation_paused
from frontend.places import PLACE_COOKIE, place_choice, start_and_route
from frontend.rendering import render
from frontend.web import checked_form, ctx_of, current, require

MAX_QUERY = 100
PLACE_COOKIE_DAYS = 365


def tenant_or_404(ctx: AppContext, tenant_id: str) -> Tenant:
    """A tenant served here; any other first path segment is a page that does not exist."""
    tenant = ctx.tenancy.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound("Diese Seite gibt es nicht. (This page does not exist.)")
    return tenant


def offered(ctx: AppContext, tenant: Tenant) -> list[ServiceDefinition]:
    """What a citizen of this town can apply for here: its activations, plus the services no
    town decides (Kindergeld: the Familienkasse), shown with the body that does."""
    own = ctx.tenancy.catalogue_of(tenant.id)
    federal = [d for d in ctx.catalogue.all() if d.local is None]
    return sorted([*own.all(), *federal], key=lambda d: d.title.de.casefold())


def remember(response: Response, request: Request, tenant: Tenant) -> Response:
    """Keep the choice for the next visit: the tenant id only, same site, HTTPS in production."""
    secure = not ctx_of(request).settings.is_local
    response.set_cookie(
        PLACE_COOKIE,
        tenant.id,
        max_age=PLACE_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    return response


def matching(ctx: AppContext, query: str) -> list[Tenant]:
    """Towns for a postcode (exactly) or a part of their name (case-insensitively)."""
    text = query.strip()[:MAX_QUERY]
    if not text:
        return []
    if text.isdigit() and len(text) == 5:
        return tenants_for_postcode(ctx.tenancy, text)
    folded = text.casefold()
    return sorted(
        (t for t in ctx.tenancy.tenants.values() if folded in t.name.casefold()),
        key=lambda t: t.name,
    )


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/orte")
    async def places(request: Request, q: str = "") -> Response:
        await current(request)
        ctx = ctx_of(request)
        query = q.strip()[:MAX_QUERY]
        return render(
            request,
            "places.html",
            query=query,
            found=matching(ctx, query),
            towns=sorted(ctx.tenancy.tenants.values(), key=lambda t: t.name),
            chosen=place_choice(request),
        )

    @router.get("/{tenant_id}/logo")
    async def logo(request: Request, tenant_id: str) -> Response:
        ctx = ctx_of(request)
        tenant = tenant_or_404(ctx, tenant_id)
        if tenant.branding.logo is None:
            raise NotFound("Diese Seite gibt es nicht. (This page does not exist.)")
        file: Path = ctx.tenancy.folders[tenant.id] / tenant.branding.logo
        kind = "image/svg+xml" if file.suffix.lower() == ".svg" else "image/png"
        # An SVG may carry script: as an image it never runs, and opened on its own the
        # policy below forbids it.
        return FileResponse(
            file,
            media_type=kind,
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    @router.get("/{tenant_id}")
    async def tenant_home_bare(request: Request, tenant_id: str) -> Response:
        tenant_or_404(ctx_of(request), tenant_id)
        return RedirectResponse(f"/{tenant_id}/", status_code=308)

    @router.get("/{tenant_id}/")
    async def tenant_home(request: Request, tenant_id: str) -> Response:
        await current(request)
        ctx = ctx_of(request)
        if tenant_id in RESERVED_IDS and tenant_id not in ctx.tenancy.tenants:
            # /cases/ and the like: this route shadows the trailing-slash redirect they had.
            return RedirectResponse(f"/{tenant_id}", status_code=308)
        tenant = tenant_or_404(ctx, tenant_id)
        views: list[ServiceView] = [service_view(d, ctx.connectors) for d in offered(ctx, tenant)]
        response = render(
            request,
            "place.html",
            place=tenant,
            base=f"/{tenant.id}",
            shown=views,
            local={d.id for d in ctx.tenancy.catalogue_of(tenant.id).all()},
            bodies={
                d.id: d.procedure.authority.name
                for d in offered(ctx, tenant)
                if d.local is None and d.procedure and d.procedure.authority
            },
            trust_levels=TRUST_LEVELS,
        )
        return remember(response, request, tenant)

    @router.get("/{tenant_id}/services/{slug}")
    async def tenant_service(request: Request, tenant_id: str, slug: str) -> Response:
        active = await current(request)
        ctx = ctx_of(request)
        tenant = tenant_or_404(ctx, tenant_id)
        own = ctx.tenancy.catalogue_of(tenant.id)
        if slug not in own:
            # A service no town decides has one page; one this town does not offer, none.
            if slug in ctx.catalogue and ctx.catalogue.get(slug).local is None:
                return RedirectResponse(f"/services/{slug}", status_code=303)
            raise NotFound("Diesen Dienst bietet dieser Ort hier nicht an. (Not offered here.)")
        definition = own.get(slug)
        drafts = []
        if active is not None and not active.identity.is_clerk:
            drafts = [
                d
                for d in await run_in_threadpool(my_drafts, ctx, active.identity)
                if d.service == slug
            ]
        return render(
            request,
            "service.html",
            place=tenant,
            base=f"/{tenant.id}",
            automation_paused=await run_in_threadpool(
                automation_paused, ctx, definition.id, tenant.id
            ),
            service=service_view(definition, ctx.connectors),
            definition=definition,
            drafts=drafts,
            trust_ok=active is None or active.identity.has_trust_level(definition.trust_level),
            trust_levels=TRUST_LEVELS,
            held_labels=[f.label for f in definition.fields if f.source is not None],
            entered_labels=[
                f.label for f in definition.fields if f.source is None and f.type != "file"
            ],
        )

    @router.get("/{tenant_id}/services/{slug}/start")
    async def tenant_start_page(request: Request, tenant_id: str, slug: str) -> Response:
        # A GET never starts anything (as /services/{slug}/start): back to the service page.
        tenant = tenant_or_404(ctx_of(request), tenant_id)
        return RedirectResponse(f"/{tenant.id}/services/{slug}", status_code=303)

    @router.post("/{tenant_id}/services/{slug}/start")
    async def tenant_start(request: Request, tenant_id: str, slug: str) -> Response:
        active = await require(request)
        form = await checked_form(request, active)
        ctx = ctx_of(request)
        tenant = tenant_or_404(ctx, tenant_id)
        if slug not in ctx.tenancy.catalogue_of(tenant.id):
            raise NotFound("Diesen Dienst bietet dieser Ort hier nicht an. (Not offered here.)")
        if form.get("fresh") != "1" and any(
            d.service == slug for d in await run_in_threadpool(my_drafts, ctx, active.identity)
        ):
            # A second start asks instead of making a second draft (the service page lists them).
            return RedirectResponse(f"/{tenant.id}/services/{slug}", status_code=303)
        return await start_and_route(request, active, slug, tenant.id)

    return router
