"""Telling clerks about new work (issue 17, item 7): an optional mail, daily at 07:00 (Berlin)
or at most every 15 minutes when something new arrived, with counts and a link only: no name,
no reference, no case data, because a mailbox is not the logged console.

Each clerk chooses on /console/settings; the address comes from the staff directory (SCIM).
Two workers may run the schedule: a mail is claimed by moving the clerk's `work_mail_at` from the
value read to now in one conditional UPDATE, so only one of them sends it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from backend.columns import aware, utcnow
from backend.console.followup import follow_up_due, overdue_clause
from backend.console.models import CaseAssignment
from backend.console.worklist import WorklistFilter, work_clauses
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.constraints import GERMAN_ZONE
from backend.department.identity import ClerkIdentity
from backend.department.models import ConsoleClerk
from backend.errors import InvalidInput
from backend.notifications.email import build_message, mail_enabled, send_mail
from backend.periodic import Periodic
from backend.records.models import Case

log = logging.getLogger("knopfdruck.workmail")

CHOICES = ("off", "daily", "immediate")
DAILY_AT = time(7, 0)
LOCAL = GERMAN_ZONE
IMMEDIATE_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class WorkCounts:
    new: int
    overdue: int
    follow_ups: int

    @property
    def anything(self) -> bool:
        return bool(self.new or self.overdue or self.follow_ups)


def set_choice(ctx: AppContext, clerk: ClerkIdentity, choice: str | None) -> None:
    """The clerk's own choice; starting now, so the first mail does not count the backlog."""
    if choice not in CHOICES:
        raise InvalidInput(
            "Bitte wählen Sie aus, wie Sie benachrichtigt werden. (Choose a notification.)",
            details=[{"field": "work_mail", "message": f"one of {', '.join(CHOICES)}"}],
        )
    with unit_of_work(ctx.engine) as session:
        row = session.get(ConsoleClerk, clerk.sub)
        if row is None:
            raise InvalidInput("Bitte melden Sie sich erneut an. (Please log in again.)")
        row.work_mail, row.work_mail_at = choice, utcnow()
        session.add(row)


def counts_for(session: Session, row: ConsoleClerk, since: datetime) -> WorkCounts:
    """What is new on the department's worklist since then, and what is overdue or due."""
    clerk = ClerkIdentity(row.sub, row.name, row.department, tuple(row.roles))

    def count(*extra: Any) -> int:
        query = (
            select(func.count())
            .select_from(Case)
            .join(CaseAssignment, col(CaseAssignment.case_id) == col(Case.id), isouter=True)
            .where(*work_clauses(clerk, WorklistFilter()), *extra)
        )
        return int(session.exec(query).one())

    return WorkCounts(
        new=count(col(Case.updated_at) > since),
        overdue=count(overdue_clause()),
        follow_ups=count(follow_up_due()),
    )


def _due(row: ConsoleClerk, now: datetime) -> bool:
    last = aware(row.work_mail_at) if row.work_mail_at else None
    if row.work_mail == "immediate":
        return last is None or now - last >= IMMEDIATE_EVERY
    if row.work_mail == "daily":
        local = now.astimezone(LOCAL)
        today_at = datetime.combine(local.date(), DAILY_AT, LOCAL).astimezone(UTC)
        return now >= today_at and (last is None or last < today_at)
    return False


def _text(row: ConsoleClerk, counts: WorkCounts, link: str) -> tuple[str, str]:
    subject = "Knopfdruck: neue Arbeit in Ihrem Fachbereich / new work in your department"
    body = (
        f"Guten Tag {row.name},\n\n"
        f"seit der letzten Nachricht neu oder geändert: {counts.new}\n"
        f"seit über drei Monaten unentschieden (§ 75 VwGO): {counts.overdue}\n"
        f"fällige Wiedervorlagen: {counts.follow_ups}\n\n"
        f"Zur Arbeitsliste: {link}\n\n"
        "Diese Nachricht enthält bewusst keine Namen und Aktenzeichen. Abbestellen in der "
        "Konsole unter „Einstellungen“.\n\n"
        "---\n"
        f"New or changed since the last message: {counts.new}; undecided for over three months: "
        f"{counts.overdue}; follow-ups due: {counts.follow_ups}. Worklist: {link}\n"
    )
    return subject, body


def send_work_mails(ctx: AppContext, now: datetime | None = None) -> int:
    """One pass: mail every clerk whose choice makes a mail due and who has something new."""
    if not mail_enabled(ctx.settings):
        return 0
    moment = now or utcnow()
    link = f"{ctx.settings.base_url.rstrip('/')}/console/worklist?assignee=me"
    sent = 0
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(ConsoleClerk).where(
                col(ConsoleClerk.active).is_(True),
                col(ConsoleClerk.email).is_not(None),
                col(ConsoleClerk.work_mail).in_(["daily", "immediate"]),
            )
        ).all()
    for row in rows:
        if not _due(row, moment):
            continue
        since = aware(row.work_mail_at) if row.work_mail_at else moment - timedelta(days=1)
        with Session(ctx.engine) as session:
            counts = counts_for(session, row, since)
        if not counts.anything or (row.work_mail == "immediate" and not counts.new):
            continue
        with unit_of_work(ctx.engine) as session:
            claimed = session.exec(
                update(ConsoleClerk)
                .where(
                    col(ConsoleClerk.sub) == row.sub,
                    (col(ConsoleClerk.work_mail_at) == row.work_mail_at)
                    if row.work_mail_at
                    else col(ConsoleClerk.work_mail_at).is_(None),
                )
                .values(work_mail_at=moment)
            )
        if claimed.rowcount != 1:
            continue  # another worker sent it
        subject, body = _text(row, counts, link)
        message = build_message(
            ctx.settings,
            to=str(row.email),
            subject=subject,
            body=body,
            key=f"work-{row.sub[:16]}-{int(moment.timestamp())}",
        )
        try:
            send_mail(ctx.settings, message)
            sent += 1
        except Exception as exc:  # a lost summary is repeated by the next one; log no address
            log.warning("work mail not sent: %s", type(exc).__name__)
    return sent


def work_mail_schedule(ctx: AppContext) -> Periodic:
    """Checks every `work_mail_interval_s` in a worker process whether work mails are due."""
    interval = ctx.settings.work_mail_interval_s if mail_enabled(ctx.settings) else 0
    return Periodic("workmail", interval, lambda: send_work_mails(ctx))
