"""The sandbox registries as one HTTP app: mounted in the embedded app or served on its own."""

from __future__ import annotations

from fastapi import FastAPI

from sandbox.registries.melderegister import build_melderegister_router


def build_registries_app(*, request_log_size: int = 100) -> FastAPI:
    """Build a fresh app with fresh registry state; nothing is created at import time."""
    app = FastAPI(
        title="Knopfdruck Sandbox-Register",
        description="Test stand-ins for the registries prefill reads from, over real HTTP.",
        version="1",
    )
    app.include_router(build_melderegister_router(request_log_size=request_log_size))

    @app.get("/healthz", tags=["Betrieb"])
    async def healthz() -> dict[str, str]:
        """Lets the stack and tests wait until the registries answer."""
        return {"status": "ok"}

    return app
