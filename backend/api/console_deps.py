"""Typed dependencies of the console JSON API (/api/v1/console): a verified clerk token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backend.api.deps import ContextDep
from backend.console.clerks import remember_clerk
from backend.db import ACTING_TENANT, tenant_wall_value
from backend.department.identity import ClerkIdentity, Permission
from backend.errors import Unauthorized

_bearer = HTTPBearer(
    auto_error=False, description="Access token of a clerk (claims department and roles)"
)


OPERATOR_API = frozenset({"/api/v1/console/operator", "/api/v1/console/me"})
"""What a login without the department view (the data centre's operator) may call."""


async def clerk_api(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ClerkIdentity:
    """A verified member of a department with a console role; 401 without token, 403 for
    citizens and role-less accounts."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Bitte melden Sie sich an. (Authentication required.)")
    identity = await ctx.verifier.verify(credentials.credentials)
    clerk = ClerkIdentity.from_identity(identity)
    if not clerk.can(Permission.VIEW) and request.url.path not in OPERATOR_API:
        # Department pages are for the department: one gate here, not one check per route.
        clerk.require(Permission.VIEW)
    # Before any query of the request: PostgreSQL's second wall (backend/db.py).
    # The data centre's operator sees counts across tenants and no case: no wall for them.
    if clerk.can(Permission.VIEW):
        ACTING_TENANT.set(tenant_wall_value(clerk.department))
    await run_in_threadpool(remember_clerk, ctx, clerk)
    return clerk


ClerkDep = Annotated[ClerkIdentity, Depends(clerk_api)]
