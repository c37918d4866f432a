"""Telling clerks about new work (issue 17, item 7): a clerk opts in on the settings page; the
pass sends a mail over real SMTP (aiosmtpd) with counts and a link only, never a name or a
reference; "immediate" waits 15 minutes between mails, "daily" goes at 07:00 Berlin time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from backend.console.directory import sync_directory
from backend.console.workmail import LOCAL, send_work_mails
from backend.context import build_context
from backend.department.models import ConsoleClerk
from tests.conftest import MailCatcher, Platform
from tests.integration.enginekit import engine, referred_case
from tests.integration.test_console_isolation import Browser, sub_of

SABINE = "sabine.krueger@stadt.example"


def test_a_clerk_gets_counts_and_a_link_never_a_name(
    platform: Platform, smtp_server: MailCatcher
) -> None:
    ctx = build_context(platform.settings)
    try:
        assert sync_directory(ctx) is not None  # the address comes from the directory
        clerk = Browser(platform, "clerk-buergeramt")
        page = clerk.get("/console/settings").text
        assert SABINE in page
        assert clerk.post("/console/settings", {"work_mail": "hourly"}).status_code == 422
        saved = clerk.post("/console/settings", {"work_mail": "immediate"})
        assert saved.status_code == 303

        citizen, case_id = referred_case(platform, "erika")
        reference = citizen.get(f"/cases/{case_id}").json()["reference"]
        before = len(smtp_server.to(SABINE))
        now = datetime.now(UTC) + timedelta(minutes=16)
        assert send_work_mails(ctx, now) >= 1
        mails = smtp_server.to(SABINE)[before:]
        assert len(mails) == 1
        body = mails[0].get_content()
        assert "seit der letzten Nachricht neu oder geändert: " in body
        assert "/console/worklist" in body
        assert reference not in body and "Mustermann" not in body and case_id not in body
        # Within 15 minutes of the last mail: nothing, even with new work.
        referred_case(platform, "jonas")
        assert send_work_mails(ctx, now + timedelta(minutes=5)) == 0
        assert len(smtp_server.to(SABINE)) == before + 1

        # Daily: not before 07:00 Berlin, once after it.
        clerk.post("/console/settings", {"work_mail": "daily"})
        with Session(engine(platform)) as session:
            session.exec(
                update(ConsoleClerk)
                .where(col(ConsoleClerk.sub) == sub_of("clerk-buergeramt"))
                .values(work_mail_at=datetime.now(UTC) - timedelta(days=1))
            )
            session.commit()
        today = datetime.now(LOCAL).date()
        early = datetime.combine(today, time(6, 30), LOCAL)
        assert send_work_mails(ctx, early) == 0
        late = datetime.combine(today, time(7, 5), LOCAL)
        assert send_work_mails(ctx, late) == 1
        assert send_work_mails(ctx, late + timedelta(hours=2)) == 0
        clerk.post("/console/settings", {"work_mail": "off"})
        assert send_work_mails(ctx, late + timedelta(days=1)) == 0
    finally:
        ctx.close()
