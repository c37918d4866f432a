"""Builds the ASGI app from settings: API, portal, sandbox, error handling, worker lifecycle."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.admission import install_admission
from backend.api.v1 import router as api_router
from backend.console.designer import CatalogueFollower
from backend.context import AppContext, build_context
from backend.definitions.catalogue import Catalogue
from backend.definitions.reload import DefinitionReloader
from backend.errors import KnopfdruckError
from backend.settings import Settings
from backend.tenants.loader import Tenancy, load_tenants
from frontend.portal import build_portal_router, render_error_page
from knopfdruck.limits import BodyLimits
from knopfdruck.observability import Observability, RequestContext, readiness
from knopfdruck.proxies import TrustedProxies, parse_networks
from knopfdruck.security import LoginRateLimit, SecurityHeaders
from knopfdruck.textguard import TextGuard
from knopfdruck.textschema import declare_text_rule

log = logging.getLogger("knopfdruck")


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/sandbox/")) or path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    )


def _error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
) -> Response:
    if _wants_json(request):
        body: dict[str, Any] = {"error": code, "message": message}
        if details:
            body["details"] = details
        return JSONResponse(body, status_code=status)
    return render_error_page(request, status, message)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        details.append(
            {"field": ".".join(loc) or "body", "message": str(err.get("msg", "invalid"))}
        )
    return details


def install_error_handlers(app: FastAPI) -> None:
    """One mapping from errors to responses: JSON for the API, a friendly page for the portal."""

    @app.exception_handler(KnopfdruckError)
    async def _domain(request: Request, exc: KnopfdruckError) -> Response:
        response = _error_response(request, exc.status_code, exc.code, exc.message, exc.details)
        retry_after = getattr(exc, "retry_after_s", None)  # backend.ratelimit.RateLimited
        if isinstance(retry_after, int):
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(
            request,
            422,
            "invalid_input",
            "Die Eingabe ist ungültig. (Invalid input.)",
            _validation_details(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = (
            "Diese Seite gibt es nicht. (This page does not exist.)"
            if exc.status_code == 404
            else str(exc.detail)
        )
        return _error_response(request, exc.status_code, "http_error", message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Only reached for errors in the middleware above UnexpectedErrors (rare).
        log_unexpected(request.method, request.url.path, exc)
        return _unexpected_response(request)


def _unexpected_response(request: Request) -> Response:
    return _error_response(
        request,
        500,
        "internal_error",
        "Etwas ist schiefgegangen. Ihre Daten sind gespeichert; bitte versuchen "
        "Sie es in einigen Minuten erneut. (Something went wrong.)",
    )


def log_unexpected(method: str, path: str, exc: BaseException) -> None:
    """Type and frames of the error and its causes, never their text: a message may quote what
    the request carried (a driver's error with its SQL parameters, a validation error with the
    input), and logs must hold no citizen's values (issue 14, item 3)."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = f"{type(current).__module__}.{type(current).__qualname__}"
        parts.append(kind + "\n" + "".join(traceback.format_tb(current.__traceback__)))
        current = current.__cause__ or current.__context__
    log.error(
        "unhandled error on %s %s: %s (message withheld: it may hold request values)\n%s",
        method,
        path,
        type(exc).__qualname__,
        "caused by or while handling:\n".join(parts),
    )


class UnexpectedErrors:
    """Innermost catch-all: a route's unexpected error is logged by `log_unexpected` and answered
    500 here, so it never reaches Starlette's outermost layer, which would hand it, message and
    all, to the server's own error log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            log_unexpected(scope["method"], scope["path"], exc)
            if not started:  # else the server closes the half-sent response
                await _unexpected_response(Request(scope))(scope, receive, send)


def _definition_reloader(settings: Settings, context: AppContext) -> DefinitionReloader | None:
    """Dev mode only: swap in each valid edit of the definitions (backend/definitions/reload)."""
    if not settings.dev_reload:
        return None

    pending: list[Tenancy] = []

    def accept(catalogue: Catalogue) -> list[str]:
        tenancy, problems = load_tenants(
            settings.tenants_folder(), catalogue.entries(), context.connectors
        )
        pending[:] = [tenancy]
        return problems

    def apply(catalogue: Catalogue) -> None:
        context.catalogue = catalogue
        if pending:
            context.tenancy = pending.pop()

    return DefinitionReloader(
        settings.services_dir,
        context.connectors,
        apply,
        interval_s=settings.dev_reload_interval_s,
        also_watch=[settings.tenants_folder()],
        accept=accept,
    )


def _catalogue_follower(settings: Settings, context: AppContext) -> CatalogueFollower | None:
    """Follow the designer's publications (backend/console/designer.py); dev mode's file
    watcher already reloads on every change, so it needs no second one."""
    if settings.dev_reload:
        return None

    def apply(catalogue: Catalogue) -> None:
        context.catalogue = catalogue
        # A published template version changes what every tenant that activated it offers.
        tenancy, problems = load_tenants(
            settings.tenants_folder(), catalogue.entries(), context.connectors
        )
        if problems:
            log.error(
                "a published definition breaks tenant overlays; tenants keep their last "
                "valid activations:\n%s",
                "\n".join(problems),
            )
        else:
            context.tenancy = tenancy

    return CatalogueFollower(
        context.engine,
        settings.services_dir,
        context.connectors,
        apply,
        interval_s=settings.definitions_poll_s,
    )


def create_app(settings: Settings, *, ctx: AppContext | None = None) -> FastAPI:
    """The whole platform for one process; tests pass their own settings."""
    context = ctx or build_context(settings)
    reloader = _definition_reloader(settings, context)
    follower = _catalogue_follower(settings, context)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from backend.cases.processing import register_engine_queues

        # Payment and mail queues live in the database; any web process may enqueue on them.
        await run_in_threadpool(
            register_engine_queues, context.dbos_client, settings.eakte_schedule
        )
        if reloader is not None:
            reloader.start()
        if follower is not None:
            follower.start()
        if settings.worker_in_process:
            from backend.runtime import launch_worker, shutdown_worker

            # DBOS's launch is synchronous and refuses to run on the event loop's thread.
            await run_in_threadpool(launch_worker, context, concurrency=settings.worker_concurrency)
        try:
            yield
        finally:
            if settings.worker_in_process:
                await run_in_threadpool(shutdown_worker)
            if reloader is not None:
                reloader.stop()
            if follower is not None:
                follower.stop()
            await context.http.aclose()
            context.close()

    app = FastAPI(
        title="Knopfdruck",
        version="0.1.0",
        description=(
            "E-service platform: held data confirmed, not retyped; lawful automated decisions."
        ),
        lifespan=lifespan,
    )
    built_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document with the text rule stated on the request side (built once)."""
        if app.openapi_schema is None:
            declare_text_rule(built_openapi())
        return app.openapi_schema or built_openapi()

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.ctx = context
    app.state.definition_reloader = reloader
    app.state.settings = settings
    install_error_handlers(app)
    install_admission(app, settings, context.engine)  # "come back later" under peak load
    observability = Observability(context.engine)
    app.state.observability = observability
    # Innermost: unexpected errors are answered and logged without the request's values.
    app.add_middleware(UnexpectedErrors)
    # Every path, query and body obeys the text rule (issue 14, item 3); it
    # reads bodies only after BodyLimits below has capped them and authenticated API callers.
    app.add_middleware(TextGuard)
    # Bodies are limited and API callers authenticated before any route reads a byte; the
    # headers and request log below still apply to its 413 and 401.
    app.add_middleware(BodyLimits, settings=settings)
    app.add_middleware(LoginRateLimit)
    app.add_middleware(SecurityHeaders, hsts=not settings.is_local)
    app.add_middleware(RequestContext, observability=observability)
    # Outermost: every layer below sees the client address trusted proxies vouch for.
    app.add_middleware(TrustedProxies, networks=parse_networks(settings.trusted_proxies))

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Liveness, plus whether the database answers (and, in dev mode, the definitions)."""
        with context.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if reloader is not None:
            return {"status": "ok", "definitions": reloader.status.as_json()}
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Readiness: database, durable-execution tables, identity provider and registries."""
        checks = await readiness(
            context.engine,
            context.http,
            {
                "identity_provider": f"{settings.oidc_issuer}/.well-known/openid-configuration",
                "registries": f"{settings.registry_base_url}/healthz",
            },
        )
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics() -> Response:
        """Prometheus exposition; put it behind the operator's network boundary."""
        return Response(observability.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(api_router)
    from backend.api.handover_callbacks import router as handover_callbacks_router

    app.include_router(handover_callbacks_router)
    from backend.api.notice_keys import router as notice_keys_router
    from backend.api.v1_case_actions import router as case_actions_router
    from backend.api.v1_catalogue_xzufi import router as catalogue_xzufi_router
    from backend.api.v1_mailbox import router as mailbox_router
    from backend.api.v1_payments import router as payments_router
    from frontend.verify import build_verify_router

    app.include_router(case_actions_router)
    app.include_router(catalogue_xzufi_router)
    app.include_router(mailbox_router)
    app.include_router(payments_router)
    app.include_router(notice_keys_router)
    app.include_router(build_verify_router())
    from backend.api.v1_console import build_console_api_router
    from frontend.console.router import build_console_router

    app.include_router(build_console_api_router())
    from backend.api.v1_console_insight import router as console_insight_router

    app.include_router(console_insight_router)
    app.include_router(build_console_router(settings))
    if settings.sandbox:
        from backend.console.directory import sandbox_directory_token
        from sandbox.idp import build_idp_router
        from sandbox.registries.app import build_registries_app
        from sandbox.scim import build_scim_router

        app.include_router(
            build_idp_router(
                settings.oidc_issuer, settings.data_dir, clients=settings.sandbox_idp_clients
            ),
            prefix="/sandbox/idp",
            include_in_schema=False,
        )
        app.include_router(
            build_scim_router(sandbox_directory_token(settings.data_dir)),
            prefix="/sandbox/idp",
            include_in_schema=False,
        )
        app.mount("/sandbox/registries", build_registries_app())
        from backend.payments.provider import payment_secrets
        from sandbox.payments import build_payments_router

        payment_keys = payment_secrets(settings)
        app.include_router(
            build_payments_router(
                public_url=f"{settings.base_url}/sandbox/payments",
                api_key=payment_keys.api_key,
                webhook_secret=payment_keys.webhook_secret,
            ),
            prefix="/sandbox/payments",
            include_in_schema=False,
        )
        from sandbox.xbezahldienste import build_xbezahldienste_router

        # The XBezahldienste payment platform (backend/payments/xbezahldienste.py) when
        # KNOPFDRUCK_PAYMENT_PROVIDER=xbezahldienste and no other platform URL is set.
        app.include_router(
            build_xbezahldienste_router(
                public_url=f"{settings.base_url}/sandbox/xbezahldienste",
                api_key=payment_keys.api_key,
            ),
            prefix="/sandbox/xbezahldienste",
            include_in_schema=False,
        )
        from backend.api.handover_callbacks import CALLBACK_PATH
        from backend.handover.credentials import SANDBOX_PATH, sandbox_fitconnect
        from sandbox.fitconnect import build_fitconnect_router

        # Its own client and callback secret: the platform trusts them only when it delivers
        # to this sandbox (backend.handover.credentials), never for a real Fachverfahren.
        fitconnect = sandbox_fitconnect(settings)
        app.include_router(
            build_fitconnect_router(
                settings.data_dir,
                settings.base_url + CALLBACK_PATH,
                clients={fitconnect.client_id: fitconnect.client_secret},
                callback_secret=fitconnect.callback_secret,
            ),
            prefix=SANDBOX_PATH,
            include_in_schema=False,
        )
        from sandbox.eakte import build_eakte_router

        # The E-Akte that takes xdomea hand-overs (backend/cases/eakte.py) when
        # KNOPFDRUCK_EAKTE_URL points at <base>/sandbox/eakte/messages.
        app.include_router(
            build_eakte_router(token=settings.eakte_token),
            prefix="/sandbox/eakte",
            include_in_schema=False,
        )
    from frontend.portal import static_files

    # Before the portal: its /{tenant}/… pages come last of all (frontend/pages_places.py).
    app.mount("/static", static_files(), name="static")
    app.include_router(build_portal_router(settings))
    return app
