"""JSON API v1 for citizens and scripts: services, applications, cases, documents."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Path, Response, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.admission import AdmittedDep
from backend.api.deps import RATE_LIMITED, CitizenDep, ContextDep, rate_limited
from backend.cases import applications as apps
from backend.cases import queries, submission, uploads
from backend.cases.catalogue_views import ServiceView, service_view
from backend.cases.draft_version import DraftChanged
from backend.cases.views import (
    ApplicationView,
    CaseView,
    UploadView,
    application_view,
    case_view,
)
from backend.columns import aware

router = APIRouter(prefix="/api/v1")

IdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Random id (32 hex digits)")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    404: {"description": "Not found (or not yours)"},
    422: {"description": "Invalid input, with field-level details"},
}


class StartApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(min_length=1, max_length=64, description="Slug of the service")
    tenant: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=r"^[a-z][a-z0-9-]*$",
        description="The town (tenant id) the application is about, for a service decided "
        "where its matter lies (Mängelmelder). For a service decided by residence the "
        "Melderegister decides; a different town here is answered 409 not_competent.",
    )


class UpdateApplication(BaseModel):
    """Answers for what no registry holds, and statements that a held value is wrong."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] | None = Field(None, description="field id → value")
    disputes: dict[str, str | None] | None = Field(
        None, description="field id → why the register's value is wrong (null withdraws it)"
    )
    remark: str | None = Field(None, max_length=1000, description="Free text for a person to read")


class Submitted(BaseModel):
    case_id: str
    reference: str
    status: str


class AccessView(BaseModel):
    at: datetime
    registry: str
    attributes_requested: list[str]
    attributes_returned: list[str]
    purpose: str
    legal_basis: str
    service: str
    application_id: str | None
    """The application the read was for; it becomes the case on submission."""
    case_id: str | None
    actor: str
    outcome: str


@router.get("/services", response_model=list[ServiceView], tags=["services"])
def list_services(ctx: ContextDep) -> list[ServiceView]:
    """Every service as the home authority offers it (a town's own: /<tenant>/ in the portal)."""
    return [service_view(ctx.definition(d.id)) for d in ctx.catalogue.all()]


@router.get("/services/{slug}", response_model=ServiceView, tags=["services"], responses=ERRORS)
def get_service(ctx: ContextDep, slug: Annotated[str, Path(max_length=64)]) -> ServiceView:
    return service_view(ctx.definition(slug))


@router.post(
    "/applications",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationView,
    tags=["applications"],
    responses={
        **ERRORS,
        **RATE_LIMITED,
        403: {"description": "The login's trust level is too low for the service"},
        409: {
            "description": "not_competent: another authority decides for the citizen's "
            "residence (the message names it); place_needed: choose the town first"
        },
    },
    dependencies=[rate_limited("start")],
)
async def start_application(
    ctx: ContextDep, citizen: CitizenDep, body: StartApplication
) -> ApplicationView:
    application = await apps.start_application(ctx, citizen, body.service, body.tenant)
    return application_view(ctx.draft_definition(application), application)


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationView,
    tags=["applications"],
    responses=ERRORS,
)
def get_application(
    ctx: ContextDep, citizen: CitizenDep, application_id: IdPath, response: Response
) -> ApplicationView:
    """The draft with its version as ETag; send it back as If-Match when submitting."""
    with Session(ctx.engine) as session:
        application = apps.get_application(session, citizen, application_id)
        response.headers["ETag"] = _etag(apps.application_version(session, application))
    return application_view(ctx.draft_definition(application), application)


def _etag(version: str) -> str:
    return f'"{version}"'


def _version_of(if_match: str | None) -> str | None:
    """The version an If-Match names (strong or weak form); `*` asks for no particular one."""
    if if_match is None or if_match.strip() == "*":
        return None
    return if_match.strip().removeprefix("W/").strip('"')


def _etag_of(ctx: ContextDep, citizen: CitizenDep, application_id: str) -> str:
    with Session(ctx.engine) as session:
        application = apps.get_application(session, citizen, application_id)
        return _etag(apps.application_version(session, application))


@router.patch(
    "/applications/{application_id}",
    response_model=ApplicationView,
    tags=["applications"],
    responses=ERRORS,
)
def update_application(
    ctx: ContextDep,
    citizen: CitizenDep,
    application_id: IdPath,
    body: UpdateApplication,
    response: Response,
) -> ApplicationView:
    application = apps.update_application(
        ctx,
        citizen,
        application_id,
        answers=body.answers,
        disputes=body.disputes,
        remark=body.remark,
    )
    response.headers["ETag"] = _etag_of(ctx, citizen, application_id)
    return application_view(ctx.draft_definition(application), application)


FieldPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Field id")]
MAX_API_UPLOAD = 20 * 1024 * 1024
"""Read at most this much of a file part; the field's own limit (shown in the service) applies
below it, so an oversized file gets the field's clear 422, not a stalled request."""


@router.put(
    "/applications/{application_id}/files/{field_id}",
    response_model=UploadView,
    tags=["applications"],
    responses=ERRORS,
)
async def attach_file(
    ctx: ContextDep,
    citizen: CitizenDep,
    application_id: IdPath,
    field_id: FieldPath,
    file: Annotated[UploadFile, File(description="The document, as multipart/form-data")],
) -> UploadView:
    """Attach (or replace) the document of a file field; its type is read from the content."""
    content = await file.read(MAX_API_UPLOAD + 1)
    return await run_in_threadpool(
        partial(
            uploads.attach_upload,
            ctx,
            citizen,
            application_id,
            field_id,
            filename=file.filename,
            content=content,
        )
    )


@router.delete(
    "/applications/{application_id}/files/{field_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["applications"],
    responses=ERRORS,
)
def remove_file(
    ctx: ContextDep, citizen: CitizenDep, application_id: IdPath, field_id: FieldPath
) -> Response:
    uploads.remove_upload(ctx, citizen, application_id, field_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/applications/{application_id}/submit",
    response_model=Submitted,
    tags=["applications"],
    responses={
        **ERRORS,
        **RATE_LIMITED,
        409: {"description": "The draft changed since the version in If-Match (problem JSON)"},
    },
    dependencies=[rate_limited("submit")],
)
def submit_application(
    ctx: ContextDep,
    citizen: CitizenDep,
    application_id: IdPath,
    _admitted: AdmittedDep,
    if_match: Annotated[
        str | None,
        Header(
            max_length=200,
            description="The ETag of the draft as the client last read it: the submit is "
            "refused with 409 when the draft changed since (what you confirm is what is sent).",
        ),
    ] = None,
) -> Submitted | JSONResponse:
    """503 + Retry-After (problem JSON) when intake is above capacity; the draft is kept."""
    # If-Match is optional so that scripts written before it keep working; a client that
    # shows the citizen what they confirm must send it (docs/portal.md).
    try:
        case = submission.submit_application(
            ctx, citizen, application_id, version=_version_of(if_match)
        )
    except DraftChanged as exc:
        return JSONResponse(
            {
                "type": "https://knopfdruck.invalid/problems/draft-changed",
                "title": "Draft changed",
                "status": 409,
                "detail": exc.message,
                "error": exc.code,
                "message": exc.message,
                "current_version": exc.current_version,
            },
            status_code=409,
            media_type="application/problem+json",
            headers={"ETag": _etag(exc.current_version)},
        )
    return Submitted(case_id=case.id, reference=case.reference, status=case.status)


@router.get("/cases", response_model=list[CaseView], tags=["cases"], responses=ERRORS)
def list_cases(ctx: ContextDep, citizen: CitizenDep) -> list[CaseView]:
    with Session(ctx.engine) as session:
        return [
            case_view(c, queries.case_documents(session, c.id))
            for c in queries.list_cases(session, citizen)
        ]


@router.get("/cases/{case_id}", response_model=CaseView, tags=["cases"], responses=ERRORS)
def get_case(ctx: ContextDep, citizen: CitizenDep, case_id: IdPath) -> CaseView:
    with Session(ctx.engine) as session:
        case = queries.get_case(session, citizen, case_id)
        return case_view(case, queries.case_documents(session, case.id))


@router.get(
    "/cases/{case_id}/documents/{document_id}",
    tags=["cases"],
    responses={**ERRORS, 200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
    response_class=Response,
)
def get_document(
    ctx: ContextDep, citizen: CitizenDep, case_id: IdPath, document_id: IdPath
) -> Response:
    with Session(ctx.engine) as session:
        document = queries.get_document(session, citizen, case_id, document_id)
    return Response(
        content=document.content,
        media_type=document.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/me/data-access", response_model=list[AccessView], tags=["data cockpit"], responses=ERRORS
)
def my_data_access(ctx: ContextDep, citizen: CitizenDep) -> list[AccessView]:
    """Datenschutzcockpit (§ 10 OZG): who read which of my data, when and why."""
    with Session(ctx.engine) as session:
        rows = queries.my_data_accesses(session, citizen)
        cases = queries.cases_of_applications(
            session, citizen, {r.application_id for r in rows if r.application_id}
        )
    return [
        AccessView(
            at=aware(r.at),  # SQLite returns naive UTC; the schema promises an RFC 3339 instant
            registry=r.registry_id,
            attributes_requested=r.attributes_requested,
            attributes_returned=r.attributes_returned,
            purpose=r.purpose,
            legal_basis=r.legal_basis,
            service=r.service,
            application_id=r.application_id,
            case_id=r.case_id or cases.get(r.application_id or ""),
            actor=r.actor,
            outcome=r.outcome,
        )
        for r in rows
    ]
