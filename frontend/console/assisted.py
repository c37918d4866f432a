"""Counter pages: a clerk applies for a walk-in citizen, answers with them, submits, and prints
the notice on the spot. The same application and processing as in the portal
(backend/console/assisted.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.cases.views import application_view
from backend.console import assisted
from backend.department.identity import ClerkIdentity
from backend.errors import InvalidInput, KnopfdruckError, NotFound, ServiceUnavailable
from frontend.console.common import clerk_form, render, require_clerk
from frontend.pages_application import normalise_amount, parse_date
from frontend.rendering import language, localized_message
from frontend.web import ctx_of

_ID_CHARS = frozenset("0123456789abcdef")
_ECHOED = (
    "service",
    "family_name",
    "given_names",
    "birthdate",
    "portal_sub",
    "document_kind",
    "document_authority",
)
"""Typed back into the form after an error; the IdNr and the document number are not echoed:
they are re-typed from the ID check."""


def _app_id(value: str) -> str:
    """Ids are 32 hex characters; anything else cannot exist (404, not a database query)."""
    if len(value) != 32 or not set(value) <= _ID_CHARS:
        raise NotFound("Diesen Antrag gibt es nicht. (Application not found.)")
    return value


def _problems(exc: KnopfdruckError, href_prefix: str = "#") -> list[dict[str, str]]:
    """Backend problems as the error summary shows them, in both languages."""
    if not exc.details:
        return [
            {
                "field": "",
                "href": "#main",
                "message_de": localized_message(exc.message, "de"),
                "message": localized_message(exc.message, "en"),
            }
        ]
    return [
        {
            "field": d.get("field", ""),
            "href": f"{href_prefix}{d.get('field', 'main')}",
            "message_de": d.get("message_de") or d.get("message", ""),
            "message": d.get("message", ""),
        }
        for d in exc.details
    ]


def _start_page(
    request: Request,
    clerk: ClerkIdentity,
    *,
    values: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = ctx_of(request)
    return render(
        request,
        "console/assisted.html",
        {
            "services": assisted.counter_services(ctx, clerk),
            "document_kinds": assisted.DOCUMENT_KINDS,
            "recent": assisted.recent_assisted(ctx, clerk),
            "values": values or {},
            "errors": errors or [],
        },
        status_code=status_code,
    )


def _draft_page(
    request: Request,
    draft: assisted.AssistedDraft,
    *,
    submitted: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    view = application_view(draft.definition, draft.application)
    asked = {f.id for f in draft.to_answer}
    return render(
        request,
        "console/assisted_draft.html",
        {
            "draft": draft,
            "service": draft.definition,
            "held": [f for f in view.fields if f.id not in asked],
            "to_answer": [f for f in view.fields if f.id in asked],
            "submitted": submitted or {},
            "errors": errors or [],
        },
        status_code=status_code,
    )


def _answers(draft: assisted.AssistedDraft, form: dict[str, str], lang: str) -> dict[str, Any]:
    """Typed values as the portal reads them: German dates and amounts are understood."""
    answers: dict[str, Any] = {}
    for field in draft.to_answer:
        raw = form.get(f"answer__{field.id}", "")
        if field.type == "date" and raw.strip():
            parsed = parse_date(raw)
            answers[field.id] = parsed if parsed else raw
        elif field.type == "decimal" and raw.strip():
            answers[field.id] = normalise_amount(raw, lang)
        else:
            answers[field.id] = raw
    return answers


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/assisted")
    async def start_form(request: Request) -> Response:
        clerk = await require_clerk(request)
        return await run_in_threadpool(_start_page, request, clerk)

    @router.post("/console/assisted")
    async def start(request: Request) -> Response:
        """Identify the citizen and open the prefilled draft."""
        clerk, form = await clerk_form(request)
        try:
            citizen = assisted.WalkIn.parse(
                idnr=form.get("idnr", ""),
                family_name=form.get("family_name", ""),
                given_names=form.get("given_names", ""),
                birthdate=form.get("birthdate", ""),
                portal_sub=form.get("portal_sub", ""),
                document_kind=form.get("document_kind", ""),
                document_number=form.get("document_number", ""),
                document_authority=form.get("document_authority", ""),
            )
            application = await assisted.start_assisted(
                ctx_of(request), clerk, form.get("service", ""), citizen
            )
        except (InvalidInput, ServiceUnavailable) as exc:
            values = {k: form.get(k, "") for k in _ECHOED}
            errors = _problems(exc)
            status = exc.status_code
            return await run_in_threadpool(
                lambda: _start_page(
                    request, clerk, values=values, errors=errors, status_code=status
                )
            )
        return RedirectResponse(f"/console/assisted/{application.id}", status_code=303)

    @router.get("/console/assisted/{application_id}")
    async def draft_page(request: Request, application_id: str) -> Response:
        clerk = await require_clerk(request)
        draft = await run_in_threadpool(
            assisted.load_assisted, ctx_of(request), clerk, _app_id(application_id)
        )
        if draft.case is not None:
            return RedirectResponse(f"/console/assisted/{application_id}/done", status_code=303)
        return _draft_page(request, draft)

    @router.post("/console/assisted/{application_id}")
    async def submit(request: Request, application_id: str) -> Response:
        """Answers and submission in one step; problems come back on the same page."""
        clerk, form = await clerk_form(request)
        ctx = ctx_of(request)
        app_id = _app_id(application_id)
        draft = await run_in_threadpool(assisted.load_assisted, ctx, clerk, app_id)
        if draft.case is None:
            answers = _answers(draft, form, language(request))
            try:
                await run_in_threadpool(
                    assisted.submit_assisted,
                    ctx,
                    clerk,
                    app_id,
                    answers,
                    form.get("remark", ""),
                )
            except InvalidInput as exc:
                return _draft_page(
                    request,
                    draft,
                    submitted=form,
                    errors=_problems(exc, "#in-"),
                    status_code=422,
                )
        return RedirectResponse(f"/console/assisted/{app_id}/done", status_code=303)

    @router.get("/console/assisted/{application_id}/done")
    async def done(request: Request, application_id: str) -> Response:
        """The case as it stands, with every document ready to print; reload to follow it."""
        clerk = await require_clerk(request)
        draft = await run_in_threadpool(
            assisted.load_assisted, ctx_of(request), clerk, _app_id(application_id)
        )
        if draft.case is None:
            return RedirectResponse(f"/console/assisted/{application_id}", status_code=303)
        return render(request, "console/assisted_done.html", {"draft": draft})

    @router.get("/console/assisted/{application_id}/documents/{document_id}")
    async def document(request: Request, application_id: str, document_id: str) -> Response:
        """The notice as PDF, to print at the counter and hand over."""
        clerk = await require_clerk(request)
        doc = await run_in_threadpool(
            assisted.assisted_document,
            ctx_of(request),
            clerk,
            _app_id(application_id),
            document_id,
        )
        return Response(
            doc.content,
            media_type=doc.media_type,
            headers={
                "Content-Disposition": f'inline; filename="{doc.filename}"',
                "Cache-Control": "no-store",
            },
        )

    return router
