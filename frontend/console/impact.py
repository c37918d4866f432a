"""Impact analysis page: a supervisor pastes or uploads a draft service.yaml and sees which of
the last N days' decisions it would change, and by which rule. Nothing is stored."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from backend.columns import utcnow
from backend.console import impact
from backend.department.access import department_services
from backend.department.identity import ClerkIdentity
from backend.errors import InvalidInput
from frontend.console.common import render, require_clerk
from frontend.pages_application import parse_date
from frontend.rendering import localized_message
from frontend.web import checked_form, ctx_of

DAY_CHOICES = (7, 30, 90, 365)
MAX_POST_BYTES = impact.MAX_DRAFT_BYTES * 2 + 16 * 1024
"""Pasted text and an uploaded file may both arrive in one post."""


def _services(request: Request, clerk: ClerkIdentity) -> list[Any]:
    """Services the department decides itself (external ones have no rules to replay)."""
    return [
        d
        for d in department_services(ctx_of(request), clerk.department)
        if d.processing != "external"
    ]


def _page(
    request: Request,
    clerk: ClerkIdentity,
    *,
    service: str = "",
    definition: str = "",
    days: int = 30,
    as_of: str = "",
    errors: list[dict[str, str]] | None = None,
    report: impact.ImpactReport | None = None,
    status_code: int = 200,
) -> Response:
    services = _services(request, clerk)
    return render(
        request,
        "console/impact_result.html" if report is not None else "console/impact.html",
        {
            "services": services,
            "titles": {d.id: d.title for d in services},
            "service": service,
            "definition": definition,
            "days": days,
            "day_choices": DAY_CHOICES,
            "as_of": as_of,
            "errors": errors or [],
            "report": report,
        },
        status_code=status_code,
    )


async def _draft_text(form: Any) -> str:
    """The uploaded file if one was chosen, else the pasted text."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        raw = await upload.read(impact.MAX_DRAFT_BYTES + 1)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                "Die Datei ist kein UTF-8-Text. (The file is not UTF-8 text.)",
                details=[{"field": "file", "message": "not UTF-8"}],
            ) from None
    text = form.get("definition")
    return text if isinstance(text, str) else ""


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/impact")
    async def impact_form(request: Request) -> Response:
        """The form; ?service=<slug> fills in the definition in force as the draft to edit."""
        clerk = await require_clerk(request)
        impact.require_supervisor(clerk)
        slug = request.query_params.get("service", "")
        text = ""
        if slug and slug in {d.id for d in _services(request, clerk)}:
            text = await run_in_threadpool(
                impact.live_definition_text, ctx_of(request).catalogue, slug
            )
        elif slug:
            slug = ""
        return _page(request, clerk, service=slug, definition=text)

    @router.post("/console/impact")
    async def impact_run(request: Request) -> Response:
        """Validate the draft and replay; shows the result or every problem of the draft."""
        clerk = await require_clerk(request)
        impact.require_supervisor(clerk)
        form = await checked_form(
            request, request.state.portal_session, max_bytes=MAX_POST_BYTES, max_files=1
        )
        ctx = ctx_of(request)
        slug = str(form.get("service") or "")
        raw_days = str(form.get("days") or "30")
        days = int(raw_days) if raw_days.isdigit() and int(raw_days) in DAY_CHOICES else 30
        raw_as_of = str(form.get("as_of") or "")
        text = await _draft_text(form)
        state: dict[str, Any] = {
            "service": slug,
            "definition": text,
            "days": days,
            "as_of": raw_as_of,
        }
        errors: list[dict[str, str]] = []
        if slug not in {d.id for d in _services(request, clerk)}:
            errors.append(
                {
                    "field": "service",
                    "href": "#service",
                    "message_de": "Bitte wählen Sie einen Dienst.",
                    "message": "Choose a service.",
                }
            )
        as_of: date | None = None
        if raw_as_of.strip():
            parsed = parse_date(raw_as_of)
            if not parsed:
                errors.append(
                    {
                        "field": "as_of",
                        "href": "#as_of",
                        "message_de": "Bitte ein Datum wie 01.01.2027 eingeben.",
                        "message": "Enter a date like 01/01/2027.",
                    }
                )
            else:
                as_of = date.fromisoformat(parsed)
        if errors:
            return _page(request, clerk, errors=errors, status_code=422, **state)

        def run() -> impact.ImpactReport:
            draft = impact.load_draft(ctx.catalogue, ctx.connectors, slug, text)
            with Session(ctx.engine) as session:
                return impact.analyse_impact(
                    session, clerk, ctx.catalogue, slug, draft, days=days, now=utcnow(), as_of=as_of
                )

        try:
            report = await run_in_threadpool(run)
        except InvalidInput as exc:
            problems = [
                {
                    "field": "definition",
                    "href": "#definition",
                    "message_de": d.get("message", ""),
                    "message": d.get("message", ""),
                }
                for d in exc.details
            ] or [
                {
                    "field": "definition",
                    "href": "#definition",
                    "message_de": localized_message(exc.message, "de"),
                    "message": localized_message(exc.message, "en"),
                }
            ]
            return _page(request, clerk, errors=problems, status_code=422, **state)
        return _page(request, clerk, report=report, **state)

    return router
