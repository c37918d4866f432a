"""The sandbox registries as one HTTP app: mounted in the embedded app or served on its own."""

from __future__ import annotations

from fastapi import FastAPI

from sandbox.population import LazyPopulation
from sandbox.registries.dogtax_register import build_dogtax_register_router
from sandbox.registries.einkommensregister import build_einkommensregister_router
from sandbox.registries.faults import FaultInjector, FaultMiddleware, build_faults_router
from sandbox.registries.geodaten import build_geodaten_router
from sandbox.registries.gewerberegister import build_gewerberegister_router
from sandbox.registries.hochschulregister import build_hochschulregister_router
from sandbox.registries.kfz_zulassungsregister import build_kfz_zulassungsregister_router
from sandbox.registries.melderegister import build_melderegister_router
from sandbox.registries.permit_register import build_permit_register_router
from sandbox.registries.personenstandsregister import build_personenstandsregister_router

_NOT_REGISTERS = frozenset({"faults", "healthz", "docs", "redoc", "openapi.json"})


def build_registries_app(
    *, request_log_size: int = 100, population: LazyPopulation | None = None
) -> FastAPI:
    """Build a fresh app with fresh registry state; nothing is created at import time.

    All read registers share one synthetic population, built on the first read (not here,
    so that starting the platform stays fast).
    """
    people = population or LazyPopulation()
    log_size = request_log_size
    app = FastAPI(
        title="Knopfdruck Sandbox-Register",
        description="Test stand-ins for the registries prefill reads from, over real HTTP.",
        version="1",
    )
    app.include_router(build_melderegister_router(people, request_log_size=log_size))
    app.include_router(build_personenstandsregister_router(people, request_log_size=log_size))
    app.include_router(build_kfz_zulassungsregister_router(people, request_log_size=log_size))
    app.include_router(build_gewerberegister_router(people, request_log_size=log_size))
    app.include_router(build_einkommensregister_router(people, request_log_size=log_size))
    app.include_router(build_hochschulregister_router(people, request_log_size=log_size))
    app.include_router(build_geodaten_router(people, request_log_size=log_size))
    app.include_router(build_permit_register_router())
    app.include_router(build_dogtax_register_router())

    @app.get("/healthz", tags=["Betrieb"])
    async def healthz() -> dict[str, str]:
        """Lets the stack and tests wait until the registries answer."""
        return {"status": "ok"}

    def registers() -> list[str]:
        """Every register the app serves, so faults can be injected into any of them."""
        first = {path.strip("/").split("/")[0] for path in app.openapi()["paths"]}
        return sorted(first - _NOT_REGISTERS - {"{registry}"})

    injector = FaultInjector()
    app.include_router(build_faults_router(injector, registers))
    app.add_middleware(FaultMiddleware, injector=injector)
    return app
