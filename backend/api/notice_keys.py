"""The public keys that verify notice QR codes, as a JWKS anyone may fetch and cache."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import Session

from backend.api.deps import ContextDep
from backend.notices.signing import published_keys

router = APIRouter(tags=["notices"])

JWKS_PATH = "/.well-known/knopfdruck-notice-keys.json"


@router.get(JWKS_PATH)
def notice_keys(ctx: ContextDep) -> JSONResponse:
    """ES256 keys (RFC 7517 JWKS) of every process that signs notices; offline verifiers use it."""
    with Session(ctx.engine) as session:
        keys: list[dict[str, Any]] = list(published_keys(session).values())
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})
