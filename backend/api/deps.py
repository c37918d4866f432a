"""Typed dependencies, declared once and used in signatures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.context import AppContext
from backend.errors import Unauthorized
from backend.ratelimit import check_rate

_bearer = HTTPBearer(auto_error=False, description="Access token from the identity provider")


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_citizen(
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """A verified citizen; clerks use the console API, not the citizen API."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Bitte melden Sie sich an. (Authentication required.)")
    identity = await ctx.verifier.verify(credentials.credentials)
    if identity.is_clerk:
        raise Unauthorized("Dieses Konto ist ein Dienstkonto. (Citizen account required.)")
    return identity


CitizenDep = Annotated[Identity, Depends(get_citizen)]


def rate_limited(action: str) -> Any:
    """A route dependency counting the request against the citizen's and the address's limit."""

    async def check(request: Request, ctx: ContextDep, citizen: CitizenDep) -> None:
        ip = request.client.host if request.client else None
        await run_in_threadpool(
            check_rate, ctx.engine, ctx.settings, action, account=citizen.sub, ip=ip
        )

    return Depends(check)


RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests from this account or address; try again later"}
}
