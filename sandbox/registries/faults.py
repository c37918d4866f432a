"""Fault injection for the sandbox registries: latency, errors, outages, broken answers.

``PUT /{registry}/faults`` with ``{"latency_ms": 200, "error_rate": 0.5, "down": false,
"malformed": false}`` makes that register slow or unreliable for every later request;
``DELETE /{registry}/faults`` (or ``DELETE /faults`` for all) restores it. Tests and the
prefill benchmark use it; the state belongs to one registries app, never to the module.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send


class Faults(BaseModel):
    """How one register misbehaves; all zero/false is a healthy register."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=60_000, description="Delay before every answer.")
    error_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of requests answered with 503."
    )
    down: bool = Field(False, description="Every request is answered with 503.")
    malformed: bool = Field(False, description="Every answer is truncated, invalid JSON.")

    @property
    def healthy(self) -> bool:
        return self == Faults()


class FaultInjector:
    """The faults of every register of one app, and the random source for error_rate."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: dict[str, Faults] = {}
        self._random = random.Random(seed)

    def get(self, registry: str) -> Faults:
        return self._faults.get(registry, Faults())

    def set(self, registry: str, faults: Faults) -> None:
        if faults.healthy:
            self._faults.pop(registry, None)
        else:
            self._faults[registry] = faults

    def reset(self) -> None:
        self._faults.clear()

    def active(self) -> dict[str, Faults]:
        return dict(self._faults)

    def draw(self) -> float:
        return self._random.random()


_BYPASS = frozenset({"faults", "_requests"})


class FaultMiddleware:
    """Applies a register's faults before its own routes see the request."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        segments = [s for s in path.split("/") if s]
        # The fault switch and the request log stay reachable while a register is "down".
        if len(segments) < 2 or _BYPASS.intersection(segments):
            await self.app(scope, receive, send)
            return
        faults = self.injector.get(segments[0])
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.down:
            await _answer(send, 503, {"fehler": "register_nicht_erreichbar"})
        elif faults.error_rate and self.injector.draw() < faults.error_rate:
            await _answer(send, 503, {"fehler": "stoerung"})
        elif faults.malformed:
            await _answer(send, 200, None)
        else:
            await self.app(scope, receive, send)


async def _answer(send: Send, status: int, body: dict[str, str] | None) -> None:
    content = json.dumps(body).encode() if body is not None else b'{"record_id": "MR-'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


def build_faults_router(injector: FaultInjector, registries: Callable[[], list[str]]) -> APIRouter:
    """The switch tests and benchmarks turn; `registries` lists the registers that exist."""
    router = APIRouter(tags=["Störungen (Test)"])

    def unknown(registry: str) -> JSONResponse | None:
        if registry in registries():
            return None
        return JSONResponse(
            status_code=404,
            content={"fehler": "register_unbekannt", "register": registries()},
        )

    @router.get("/faults")
    async def all_faults() -> dict[str, dict[str, Faults]]:
        """Every register with injected faults."""
        return {"faults": injector.active()}

    @router.delete("/faults")
    async def reset_all() -> dict[str, dict[str, Faults]]:
        """Every register healthy again."""
        injector.reset()
        return {"faults": {}}

    @router.get("/{registry}/faults", response_model=Faults)
    async def get_faults(registry: str) -> Faults | JSONResponse:
        return unknown(registry) or injector.get(registry)

    @router.put("/{registry}/faults", response_model=Faults)
    async def put_faults(registry: str, faults: Faults) -> Faults | JSONResponse:
        """Make a register slow, flaky, down or broken for every later request."""
        problem = unknown(registry)
        if problem:
            return problem
        injector.set(registry, faults)
        return injector.get(registry)

    @router.delete("/{registry}/faults", response_model=Faults)
    async def reset_faults(registry: str) -> Faults | JSONResponse:
        problem = unknown(registry)
        if problem:
            return problem
        injector.set(registry, Faults())
        return Faults()

    return router
