"""Start page, search and service pages, and starting an application."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.cases.catalogue_views import ServiceView, service_view
from backend.cases.drafts import DraftView, my_drafts
from backend.cases.proactive import ProactiveOffers
from backend.context import AppContext
from backend.definitions.constraints import local_today
from backend.definitions.models import ServiceDefinition
from frontend.catalogue import TRUST_LEVELS, by_life_situation, search
from frontend.places import place_choice, start_and_route
from frontend.rendering import render
from frontend.web import checked_form, ctx_of, current, require

MAX_QUERY = 100


def build() -> APIRouter:
    router = APIRouter()
    cache: dict[tuple[int, int, int, date], list[ServiceView]] = {}
    proactive = ProactiveOffers()

    def services(ctx: AppContext) -> list[ServiceView]:
        """The catalogue's cards; fees may change at midnight, so they are made once a day."""
        # A dev reload or a publication replaces the catalogue or the tenancy: new cards.
        key = (id(ctx), id(ctx.catalogue), id(ctx.tenancy), local_today())
        if key not in cache:
            cache.clear()
            # As the home authority offers them (its fees), or the templates without tenants.
            cache[key] = [
                service_view(ctx.definition(d.id), ctx.connectors) for d in ctx.catalogue.all()
            ]
        return cache[key]

    @router.get("/")
    async def index(request: Request, lage: str = "") -> Response:
        active = await current(request)
        ctx = ctx_of(request)
        # Issue 21 item 6: every service once, life situations as filters that are plain links,
        # so the list works without JavaScript and is short on a phone.
        everything = services(ctx)
        groups = by_life_situation(everything)
        chosen = next((g for g in groups if g[0] == lage), None)
        drafts = await run_in_threadpool(my_drafts, ctx, active.identity) if active else []
        # Issue 5 item 9 / issue 7: offers after a birth, without the parent starting anything.
        offered = await proactive.offers_for(ctx, active.identity if active else None)
        return render(
            request,
            "index.html",
            groups=groups,
            chosen=chosen,
            shown=chosen[2] if chosen else sorted(everything, key=lambda v: v.title.de.casefold()),
            total=len(everything),
            drafts=drafts,
            offers=[s for o in offered for s in services(ctx) if s.id == o.service],
            offer_child=offered[0] if offered else None,
            catalogue=ctx.catalogue,
            trust_levels=TRUST_LEVELS,
        )

    @router.get("/services")
    async def service_list(request: Request, q: str = "") -> Response:
        await current(request)
        everything = services(ctx_of(request))
        query = q.strip()[:MAX_QUERY]
        found = (
            search(everything, query)
            if query
            else sorted(everything, key=lambda s: s.title.de.casefold())
        )
        return render(request, "services.html", query=query, found=found, trust_levels=TRUST_LEVELS)

    @router.get("/services/{slug}")
    async def service_page(request: Request, slug: str) -> Response:
        active = await current(request)
        ctx = ctx_of(request)
        definition = ctx.definition(slug)
        view = next(s for s in services(ctx) if s.id == definition.id)
        drafts = []
        if active is not None and not active.identity.is_clerk:
            drafts = [
                d
                for d in await run_in_threadpool(my_drafts, ctx, active.identity)
                if d.service == slug
            ]
        trust_ok = active is None or active.identity.has_trust_level(definition.trust_level)
        from frontend.console.portal_notice import automation_paused

        return render(
            request,
            "service.html",
            automation_paused=await run_in_threadpool(automation_paused, ctx, definition.id),
            service=view,
            definition=definition,
            drafts=drafts,
            trust_ok=trust_ok,
            trust_levels=TRUST_LEVELS,
            tenants_served=bool(ctx.tenancy.tenants),
            held_labels=[f.label for f in definition.fields if f.source is not None],
            entered_labels=[
                f.label for f in definition.fields if f.source is None and f.type != "file"
            ],
        )

    @router.get("/services/{slug}/trust")
    async def trust_page(request: Request, slug: str) -> Response:
        await current(request)
        definition = ctx_of(request).catalogue.get(slug)
        return render(request, "trust.html", service=definition, trust_levels=TRUST_LEVELS)

    async def drafts_of(ctx: AppContext, identity: Identity, slug: str) -> list[DraftView]:
        return [d for d in await run_in_threadpool(my_drafts, ctx, identity) if d.service == slug]

    def choice(
        request: Request, definition: ServiceDefinition, drafts: list[DraftView]
    ) -> Response:
        """Issue 21 item 6: a second start asks instead of silently making a second draft."""
        return render(request, "start_choice.html", service=definition, drafts=drafts)

    @router.get("/services/{slug}/start")
    async def start_page(request: Request, slug: str) -> Response:
        # Reached after a login that could not start at once (a draft exists) or by a typed
        # address: a GET never starts anything, it shows the choice or the service page.
        active = await current(request)
        ctx = ctx_of(request)
        definition = ctx.catalogue.get(slug)
        if active is not None and not active.identity.is_clerk:
            drafts = await drafts_of(ctx, active.identity, slug)
            if drafts:
                return choice(request, definition, drafts)
        return RedirectResponse(f"/services/{definition.id}", status_code=303)

    @router.post("/services/{slug}/start")
    async def start(request: Request, slug: str) -> Response:
        active = await require(request)
        form = await checked_form(request, active)
        ctx = ctx_of(request)
        definition = ctx.catalogue.get(slug)
        if form.get("fresh") != "1" and await drafts_of(ctx, active.identity, slug):
            return RedirectResponse(f"/services/{definition.id}/start", status_code=303)
        local = definition.local
        # The town picked earlier decides only where the matter lies (Mängelmelder); for a
        # residence it is the Melderegister's answer (backend/cases/competence.py).
        place = place_choice(request) if local and local.competent_by == "place" else None
        return await start_and_route(request, active, slug, place)

    return router
