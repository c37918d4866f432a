"""Mailbox texts for every citizen-relevant change; mails with nothing but salutation and link."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from backend.domain.case_state import CITIZEN_RELEVANT
from backend.notifications.messages import (
    Bilingual,
    MessageFacts,
    notification_mail,
    payment_reminder,
    review_requested,
    status_changed,
)

FACTS = MessageFacts(
    service_title=Bilingual("Meldebescheinigung", "Certificate of registered residence"),
    reference="KD-2026-ABCD-EF23",
    amount=Decimal("36.00"),
    due_on=date(2026, 12, 6),
    outcome="approved",
    objection_deadline=date(2026, 12, 28),
    automated=True,
    question="Seit wann wohnen Sie dort?",
)


@pytest.mark.parametrize("status", sorted(CITIZEN_RELEVANT))
def test_every_citizen_relevant_status_has_a_message_in_both_languages(status: str) -> None:
    text = status_changed(status, FACTS)
    for part in (text.subject, text.body):
        assert part.de and part.en and part.de != part.en
        assert "{" not in part.de + part.en  # no placeholder left unfilled
    assert "KD-2026-ABCD-EF23" in text.subject.de


def test_notice_message_names_deadline_and_review_right() -> None:
    text = status_changed("notified", FACTS)
    assert "28.12.2026" in text.body.de and "28 December 2026" in text.body.en
    assert "Art. 22 Abs. 3 DSGVO" in text.body.de
    manual = status_changed("notified", MessageFacts(**{**FACTS.__dict__, "automated": False}))
    assert "Art. 22" not in manual.body.de


def test_payment_texts_have_amount_and_date_in_each_locale() -> None:
    text = payment_reminder(FACTS)
    assert "36,00\xa0€" in text.body.de and "€36.00" in text.body.en
    assert "06.12.2026" in text.body.de
    asked = status_changed("awaiting_citizen", FACTS)
    assert "Seit wann wohnen Sie dort?" in asked.body.de
    assert "28.12.2026" in review_requested(FACTS).body.de


def test_unknown_status_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        status_changed("processing", FACTS)


def test_the_mail_carries_only_salutation_and_link() -> None:
    mail = notification_mail("Erika  Mustermann", "https://portal.example/mailbox")
    assert "Guten Tag Erika Mustermann," in mail.body
    assert "https://portal.example/mailbox" in mail.body
    for secret in ("KD-2026", "Meldebescheinigung", "36,00", "bewilligt", "Widerspruch"):
        assert secret not in mail.body and secret not in mail.subject
    assert notification_mail("", "https://x/mailbox").body.startswith("Guten Tag,")


@pytest.mark.parametrize(
    ("kind", "de", "en"),
    [
        (None, "bis zum 28.12.2026 Widerspruch einlegen", "lodge an objection until"),
        ("widerspruch", "bis zum 28.12.2026 Widerspruch einlegen", "lodge an objection until"),
        ("einspruch", "bis zum 28.12.2026 Einspruch einlegen", "objection (Einspruch) until"),
        ("klage", "Klage beim Verwaltungsgericht erheben", "action before the administrative"),
    ],
)
def test_the_decision_message_names_the_remedy_of_the_regime(
    kind: str | None, de: str, en: str
) -> None:
    facts = dataclasses.replace(FACTS, remedy_kind=kind)
    text = status_changed("notified", facts)
    assert text is not None
    assert de in text.body.de and en in text.body.en
    if kind in ("einspruch", "klage"):
        assert "Widerspruch" not in text.body.de


def test_the_decision_message_offers_no_remedy_against_a_certificate() -> None:
    text = status_changed("notified", dataclasses.replace(FACTS, remedy_kind="none"))
    assert text is not None
    assert "Widerspruch" not in text.body.de and "objection" not in text.body.en


def test_an_einspruch_is_confirmed_as_einspruch_and_reexamined_under_the_ao() -> None:
    facts = dataclasses.replace(FACTS, remedy_kind="einspruch")
    text = status_changed("objection", facts)
    assert text is not None
    assert text.subject.de.startswith("Ihr Einspruch") and "(§ 367 AO)" in text.body.de
    assert "VwGO" not in text.body.de and "Widerspruch" not in text.body.de
    assert "Einspruchsfrist" in review_requested(facts).body.de
