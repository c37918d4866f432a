"""Mailbox messages for citizen-relevant changes, and one notification mail each over real SMTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.db import unit_of_work
from backend.notifications.delivery import send_email_step
from backend.notifications.models import EmailOutbox, MailboxMessage
from tests.conftest import MailCatcher, Platform
from tests.integration.enginekit import (
    engine,
    messages_of,
    notified_case,
    referred_case,
    wait_until,
)


@pytest.fixture
def mail_address(platform: Platform) -> Iterator[tuple[httpx.Client, str]]:
    """Jonas asks for notification mails at an address of this test alone."""
    api = platform.api("jonas")
    address = f"jonas-{uuid.uuid4().hex[:10]}@example.org"
    r = api.put("/me/notification-email", json={"email": address})
    assert r.status_code == 200 and r.json() == {"email": address}
    yield api, address
    assert api.delete("/me/notification-email").status_code == 204


def _outbox_rows(platform: Platform, case_id: str) -> list[EmailOutbox]:
    with Session(engine(platform)) as session:
        ids = session.exec(select(MailboxMessage.id).where(MailboxMessage.case_id == case_id)).all()
        return list(
            session.exec(select(EmailOutbox).where(col(EmailOutbox.message_id).in_(ids))).all()
        )


def test_decision_goes_to_the_mailbox_and_one_plain_mail_says_so(
    platform: Platform, smtp_server: MailCatcher, mail_address: tuple[httpx.Client, str]
) -> None:
    api, address = mail_address
    _api, case_id = notified_case(platform, "jonas")
    case = api.get(f"/cases/{case_id}").json()

    (message,) = messages_of(api, case_id)
    assert message["kind"] == "decision" and message["read_at"] is None
    assert case["reference"] in message["subject"]["de"]
    # A Meldebescheinigung is no administrative act: the message offers no Widerspruch.
    assert "Widerspruch" not in message["body"]["de"] and "objection" not in message["body"]["en"]

    (mail,) = wait_until(lambda: smtp_server.to(address), "notification mail delivered")
    body = mail.get_content()
    assert "Guten Tag Jonas Schneider," in body
    assert f"{platform.base_url}/mailbox" in body
    # Beyond the salutation and the link, nothing about the case leaves the platform.
    for private in (case["reference"], "Meldebescheinigung", "Venloer", "bewilligt", "1991"):
        assert private not in body and private not in str(mail["Subject"])
    assert mail["Auto-Submitted"] == "auto-generated"
    wait_until(
        lambda: [r.status for r in _outbox_rows(platform, case_id)] == ["sent"],
        "outbox row marked sent",
    )

    before = api.get("/mailbox").json()["unread"]
    read = api.post(f"/mailbox/{message['id']}/read").json()
    assert read["read_at"] is not None
    assert api.post(f"/mailbox/{message['id']}/read").json()["read_at"] == read["read_at"]
    assert api.get("/mailbox").json()["unread"] == before - 1
    assert platform.api("erika").post(f"/mailbox/{message['id']}/read").status_code == 404


def test_a_retried_send_step_never_sends_twice(
    platform: Platform, smtp_server: MailCatcher, mail_address: tuple[httpx.Client, str]
) -> None:
    _api, address = mail_address
    _, case_id = referred_case(platform, "jonas")
    wait_until(lambda: smtp_server.to(address), "referral mail delivered")
    (row,) = wait_until(
        lambda: [r for r in _outbox_rows(platform, case_id) if r.status == "sent"], "sent"
    )

    # The step runs again (as after a crash once the mail was out): it sends nothing.
    assert send_email_step(row.id) == "sent"
    # A crash between claiming the row and the SMTP answer: unknown, so it is not resent.
    with unit_of_work(engine(platform)) as session:
        session.execute(
            update(EmailOutbox).where(col(EmailOutbox.id) == row.id).values(status="sending")
        )
    assert send_email_step(row.id) == "sending"
    assert len(smtp_server.to(address)) == 1


def test_smtp_down_is_retried_until_the_mail_is_out_once(
    platform: Platform,
    smtp_server: MailCatcher,
    mail_address: tuple[httpx.Client, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _api, address = mail_address
    monkeypatch.setattr(platform.settings, "smtp_port", 9)  # discard port: nobody listens
    _api, case_id = referred_case(platform, "jonas")
    (row,) = wait_until(
        lambda: [r for r in _outbox_rows(platform, case_id) if r.last_error], "a failed attempt"
    )
    assert row.status in ("pending", "sending") and "connection" in (row.last_error or "")
    assert smtp_server.to(address) == []
    monkeypatch.setattr(platform.settings, "smtp_port", smtp_server.port)
    wait_until(lambda: smtp_server.to(address), "mail delivered after SMTP came back", 40)
    (sent,) = wait_until(
        lambda: [r for r in _outbox_rows(platform, case_id) if r.status == "sent"], "sent"
    )
    assert sent.attempts >= 2
    assert len(smtp_server.to(address)) == 1


def test_no_address_means_mailbox_only_and_bad_addresses_are_refused(
    platform: Platform, smtp_server: MailCatcher
) -> None:
    api = platform.api("erika")
    api.delete("/me/notification-email")
    assert api.get("/me/notification-email").json() == {"email": None}
    for bad in ("erika", "erika@", "a b@example.org", "x" * 250 + "@example.org"):
        r = api.put("/me/notification-email", json={"email": bad})
        assert r.status_code == 422, bad
    _api, case_id = referred_case(platform, "erika")
    assert [m["kind"] for m in messages_of(api, case_id)] == ["referred"]
    assert _outbox_rows(platform, case_id) == []
