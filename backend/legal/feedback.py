"""Storing feedback: the feedback mechanism BITV 2.0 § 7 and the OZG service standard ask for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import delete
from sqlmodel import Session, col, select

from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.answers import FieldProblem, din91379_problem
from backend.definitions.portal import authority_of
from backend.legal.models import Feedback

Topic = Literal["accessibility", "service", "portal"]
TOPICS: tuple[Topic, ...] = ("accessibility", "service", "portal")
MAX_MESSAGE = 5000
KEEP_DAYS = 365
"""Feedback is deleted a year after it came in (Art. 5 Abs. 1 lit. e GDPR); the privacy page
says so. A year covers the annual review of the accessibility statement (BITV 2.0 § 7 Abs. 3)."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class FeedbackForm:
    """What the form sent, as text, before it is checked."""

    topic: str
    message: str
    service: str = ""
    reply_to: str = ""
    rating: str = ""
    page: str = ""
    lang: str = "de"


def problems(ctx: AppContext, form: FeedbackForm) -> list[FieldProblem]:
    """Everything wrong with the form, per field and in both languages; empty when fine."""
    found: list[FieldProblem] = []
    if form.topic not in TOPICS:
        found.append(FieldProblem("topic", "Bitte wählen Sie ein Thema.", "Choose a topic."))
    if form.service and form.service not in ctx.catalogue:
        found.append(
            FieldProblem("service", "Diesen Dienst gibt es nicht.", "This service does not exist.")
        )
    message = form.message.strip()
    if not message:
        found.append(
            FieldProblem("message", "Bitte schreiben Sie Ihre Nachricht.", "Write your message.")
        )
    elif len(message) > MAX_MESSAGE:
        found.append(
            FieldProblem(
                "message",
                f"Ihre Nachricht ist {len(message)} Zeichen lang; höchstens {MAX_MESSAGE} gehen.",
                f"Your message has {len(message)} characters; at most {MAX_MESSAGE} fit.",
            )
        )
    else:
        charset = din91379_problem("message", "Nachricht", "Message", message)
        if charset is not None:
            found.append(charset)
    reply = form.reply_to.strip()
    if reply and (len(reply) > 254 or not _EMAIL.match(reply)):
        found.append(
            FieldProblem(
                "reply_to",
                "Geben Sie eine E-Mail-Adresse wie name@example.de an, oder lassen Sie das Feld "
                "leer.",
                "Enter an email address like name@example.com, or leave the field empty.",
            )
        )
    if form.rating and form.rating not in ("1", "2", "3", "4", "5"):
        found.append(FieldProblem("rating", "Bitte wählen Sie eine Bewertung.", "Choose a rating."))
    return found


def authority_for(ctx: AppContext, service: str) -> str:
    """Who answers: the service's authority, or the portal's operator."""
    if service and service in ctx.catalogue:
        return authority_of(ctx.catalogue.get(service), ctx.settings.authority_name)[0]
    return ctx.portal.operator.name if ctx.portal else ctx.settings.authority_name


def store(ctx: AppContext, form: FeedbackForm) -> str:
    """Keep a checked message for its authority; old ones are deleted on the way."""
    row = Feedback(
        topic=form.topic,
        service=form.service or None,
        authority=authority_for(ctx, form.service),
        page=form.page[:300],
        rating=int(form.rating) if form.rating else None,
        message=form.message.strip(),
        reply_to=form.reply_to.strip() or None,
        lang="en" if form.lang == "en" else "de",
    )
    with unit_of_work(ctx.engine) as session:
        cutoff = utcnow() - timedelta(days=KEEP_DAYS)
        session.execute(delete(Feedback).where(col(Feedback.created_at) < cutoff))
        session.add(row)
    return row.id


def recent(ctx: AppContext, limit: int = 100) -> list[Feedback]:
    """The newest messages first, for `knopfdruck feedback list`."""
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(Feedback).order_by(col(Feedback.created_at).desc()).limit(limit)
        ).all()
        session.expunge_all()
        return list(rows)
