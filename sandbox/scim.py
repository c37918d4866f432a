"""The sandbox IdP's staff directory as SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol): the
clerks a municipality's IdP knows, read by the console to list every colleague, also those who
never logged in. Only `GET /Users` with paging (startIndex, count) and the filter
`active eq true` are served; the caller authenticates with the bearer token the router is built
with (knopfdruck passes the one in the data directory), compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from sandbox.personas import PERSONAS, Persona

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_COUNT = 200


def _error(status: int, detail: str, scim_type: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return JSONResponse(body, status_code=status, media_type="application/scim+json")


def work_email(persona: Persona) -> str:
    """The sandbox town's address scheme: vorname.nachname@stadt.example, umlauts spelled out."""
    fold = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ı": "i"})
    local = f"{persona.given_name}.{persona.family_name}".lower().translate(fold)
    return f"{''.join(c for c in local if c.isascii() and (c.isalnum() or c == '.'))}@stadt.example"


def user_resource(persona: Persona) -> dict[str, Any]:
    """A staff member as a SCIM User with the enterprise extension's department."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": persona.sub,
        "userName": persona.id,
        "name": {
            "givenName": persona.given_name,
            "familyName": persona.family_name,
            "formatted": f"{persona.given_name} {persona.family_name}",
        },
        "displayName": f"{persona.given_name} {persona.family_name}",
        "active": True,
        "emails": [{"value": work_email(persona), "type": "work", "primary": True}],
        "roles": [{"value": role} for role in persona.roles],
        # The tenant as the enterprise extension's organization: a town's clerks are its staff.
        ENTERPRISE_SCHEMA: {
            "department": persona.department,
            **({"organization": persona.tenant} if persona.tenant else {}),
        },
        "meta": {"resourceType": "User"},
    }


def build_scim_router(token: str) -> APIRouter:
    if len(token) < 16:
        raise ValueError("the directory token must be a long random string")
    router = APIRouter(tags=["sandbox staff directory (SCIM 2.0)"])

    @router.get("/scim/v2/Users")
    async def users(
        authorization: str = Header(""),
        start_index: int = Query(1, alias="startIndex"),
        count: int = Query(100),
        filter_: str = Query("", alias="filter", max_length=200),
    ) -> JSONResponse:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, token):
            return _error(401, "A valid bearer token is required.")
        if filter_ and filter_.strip() != "active eq true":
            return _error(400, "Only the filter 'active eq true' is supported.", "invalidFilter")
        staff = [p for p in PERSONAS if p.department]
        first = max(1, start_index)
        size = min(max(0, count), MAX_COUNT)
        page = staff[first - 1 : first - 1 + size]
        return JSONResponse(
            {
                "schemas": [LIST_SCHEMA],
                "totalResults": len(staff),
                "startIndex": first,
                "itemsPerPage": len(page),
                "Resources": [user_resource(p) for p in page],
            },
            media_type="application/scim+json",
        )

    return router
