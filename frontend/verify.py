"""The public page /verify: is this notice or certificate genuine and unaltered?

Reached from a document's QR code (/verify?t=<token>), by pasting the code or a SHA-256, or
by uploading the PDF. It changes nothing and needs no login, so it carries no CSRF token.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from backend.context import AppContext
from backend.notices import verify as verification
from frontend.rendering import render

_HEX_SHA256 = re.compile(r"^\s*[0-9a-fA-F]{64}\s*$")


def build_verify_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def ctx_of(request: Request) -> AppContext:
        ctx: AppContext = request.app.state.ctx
        return ctx

    @router.get("/verify")
    async def verify_page(request: Request, t: str | None = None) -> Response:
        code = (t or "").strip()[: verification.MAX_TOKEN_INPUT]
        if t is not None and not code:
            # The form sent without a code: say so, instead of the bare form again (issue 21).
            return render(request, "verify.html", status_code=422, result=None, code="", empty=True)
        result = None
        if code:
            check = verification.by_hash if _HEX_SHA256.match(code) else verification.by_token
            result = await run_in_threadpool(check, ctx_of(request), code)
        return render(request, "verify.html", result=result, code=code)

    @router.post("/verify")
    async def verify_upload(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > verification.MAX_PDF + 65536:
            # Refused before reading: an upload must not fill the server's disk.
            invalid = verification.Verification("invalid", "file")
            return render(request, "verify.html", status_code=413, result=invalid, code="")
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("file")
        data = b""
        if isinstance(upload, UploadFile):
            data = await upload.read(verification.MAX_PDF + 1)
        result = await run_in_threadpool(verification.by_file, ctx_of(request), data)
        return render(request, "verify.html", result=result, code="")

    return router
