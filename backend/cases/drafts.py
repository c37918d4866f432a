"""Save and return later: a citizen's unsent applications, their progress and their lifetime."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases.applications import (
    application_prints,
    delete_draft_rows,
    draft_expires_at,
    get_application,
    open_draft,
)
from backend.cases.submission import case_of_application, missing_required
from backend.cases.uploads import application_uploads
from backend.cases.views import ApplicationView, UploadView, application_view
from backend.columns import aware, utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.models import DEFAULT_TOPIC, ServiceDefinition
from backend.errors import InvalidInput
from backend.records.models import Application, DraftProgress

HELD_STEP = "held"
"""The step in which the citizen confirms (or disputes) the data registries delivered."""


TOPIC_PREFIX = "topic:"


def topic_step(topic: str) -> str:
    """The step of one question page."""
    return f"{TOPIC_PREFIX}{topic}"


def known_steps(definition: ServiceDefinition) -> set[str]:
    topics = {t.id for t in definition.topics} | {DEFAULT_TOPIC}
    return {HELD_STEP} | {topic_step(t) for t in topics}


@dataclass(frozen=True)
class DraftState:
    """Everything the application pages show of one draft (or of the application it was)."""

    definition: ServiceDefinition
    application: ApplicationView
    steps_done: frozenset[str]
    uploads: list[UploadView]
    expires_at: datetime | None
    """When the draft is deleted if not sent; None once it is sent."""
    case_id: str | None
    """The case the application became, once it is sent."""
    prints: dict[str, str] = field(default_factory=dict)
    """Fingerprints of what the check page shows, so a submit can prove nothing changed since."""


def draft_state(ctx: AppContext, identity: Identity, application_id: str) -> DraftState:
    """The draft with its progress and files; a sent application names its case instead."""
    with Session(ctx.engine) as session:
        application = get_application(session, identity, application_id)
        if application.status != "draft":
            definition = ctx.draft_definition(application)
            return DraftState(
                definition=definition,
                application=application_view(definition, application),
                steps_done=frozenset(),
                uploads=[],
                expires_at=None,
                case_id=case_of_application(session, application.id).id,
            )
        application, definition = open_draft(ctx, session, identity, application_id)
        progress = session.get(DraftProgress, application.id)
        return DraftState(
            definition=definition,
            application=application_view(definition, application),
            steps_done=frozenset(progress.steps if progress else ()),
            uploads=application_uploads(session, application.id),
            expires_at=draft_expires_at(definition, application),
            case_id=None,
            prints=application_prints(session, application),
        )


def mark_step_done(ctx: AppContext, identity: Identity, application_id: str, step: str) -> None:
    """Remember a finished step; saving it also restarts the draft's lifetime."""
    with unit_of_work(ctx.engine) as session:
        application, definition = open_draft(ctx, session, identity, application_id)
        if step not in known_steps(definition):
            raise InvalidInput(f"Unknown step {step!r}.")
        progress = session.get(DraftProgress, application.id) or DraftProgress(
            application_id=application.id
        )
        if step not in progress.steps:
            progress.steps = [*progress.steps, step]
        progress.updated_at = application.updated_at = utcnow()
        session.add(progress)
        session.add(application)


def missing_on_page(
    ctx: AppContext, identity: Identity, application_id: str, field_ids: set[str]
) -> list[dict[str, str]]:
    """Required answers still missing among one page's fields, as the submit would name them."""
    with Session(ctx.engine) as session:
        application, definition = open_draft(ctx, session, identity, application_id)
        return [p.as_detail() for p in missing_required(definition, application, only=field_ids)]


class DraftView(BaseModel):
    """An unsent application on the citizen's "My applications" page."""

    id: str
    service: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


def my_drafts(ctx: AppContext, identity: Identity) -> list[DraftView]:
    """The citizen's drafts still within their lifetime, most recently saved first; their
    expired ones are deleted on the way (everyone's are, whenever a draft is started)."""
    now = utcnow()
    with unit_of_work(ctx.engine) as session:
        rows = session.exec(
            select(Application)
            .where(Application.citizen_sub == identity.sub, Application.status == "draft")
            .order_by(col(Application.updated_at).desc())
        ).all()
        kept: list[DraftView] = []
        expired: list[str] = []
        for row in rows:
            if row.service not in ctx.catalogue:
                continue
            expires_at = draft_expires_at(ctx.draft_definition(row), row)
            if expires_at < now:
                expired.append(row.id)
                continue
            kept.append(
                DraftView(
                    id=row.id,
                    service=row.service,
                    created_at=aware(row.created_at),
                    updated_at=aware(row.updated_at),
                    expires_at=expires_at,
                )
            )
        delete_draft_rows(session, expired)
        return kept


def discard_draft(ctx: AppContext, identity: Identity, application_id: str) -> None:
    """Delete a draft the citizen no longer wants, with its files; a sent one cannot be."""
    with unit_of_work(ctx.engine) as session:
        application, _definition = open_draft(ctx, session, identity, application_id)
        delete_draft_rows(session, [application.id])
