"""Texts of mailbox messages and notification mails, German and English. Pure, no I/O.

Mailbox messages live behind the login, so they may name the service and the reference.
Mails leave the platform: they carry the salutation and a link to the mailbox, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency


@dataclass(frozen=True)
class Bilingual:
    de: str
    en: str


@dataclass(frozen=True)
class MessageText:
    """One mailbox message before it is stored."""

    kind: str
    subject: Bilingual
    body: Bilingual


@dataclass(frozen=True)
class MessageFacts:
    """What a message may mention about its case."""

    service_title: Bilingual
    reference: str
    amount: Decimal | None = None
    due_on: date | None = None
    outcome: str | None = None
    objection_deadline: date | None = None
    automated: bool = False
    question: str | None = None
    withdrawn_by_system: bool = False
    remedy_kind: str | None = None
    """widerspruch, einspruch, klage or none (backend/domain/remedy.py); None: a Widerspruch."""
    reasons_without_document: Bilingual | None = None
    """The decision's reasons when the outcome issues no document (a certificate refused):
    the message is then the written answer, and promises no PDF."""
    decision_kind: str = "application"
    """application, assessment or certificate (ServiceDefinition.decision_kind)."""


def _day(value: date, lang: str) -> str:
    return str(format_date(value, "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy", locale=lang))


def _money(value: Decimal, lang: str) -> str:
    return str(format_currency(value, "EUR", locale="de_DE" if lang == "de" else "en_GB"))


def _both(template_de: str, template_en: str, facts: MessageFacts) -> Bilingual:
    """Fill the same placeholders in both languages, each in its own date and number format."""

    def fill(template: str, lang: str) -> str:
        values = {
            "service": facts.service_title.de if lang == "de" else facts.service_title.en,
            "reference": facts.reference,
            "amount": _money(facts.amount, lang) if facts.amount is not None else "",
            "due": _day(facts.due_on, lang) if facts.due_on else "",
            "deadline": _day(facts.objection_deadline, lang) if facts.objection_deadline else "",
            "question": facts.question or "",
        }
        return template.format(**values)

    return Bilingual(de=fill(template_de, "de"), en=fill(template_en, "en"))


def payment_requested(facts: MessageFacts) -> MessageText:
    return MessageText(
        "payment",
        _both("Gebühr für Ihren Antrag {reference}", "Fee for your application {reference}", facts),
        _both(
            "Ihr Antrag auf {service} kann entschieden werden, sobald die Gebühr von {amount} "
            "bezahlt ist. Bitte bezahlen Sie bis zum {due} über die Seite Ihres Antrags. "
            "Wird die Gebühr bis dahin nicht bezahlt, gilt der Antrag als zurückgenommen.",
            "Your application for {service} can be decided as soon as the fee of {amount} is "
            "paid. Please pay by {due} on the page of your application. If the fee is not paid "
            "by then, the application counts as withdrawn.",
            facts,
        ),
    )


def payment_reminder(facts: MessageFacts) -> MessageText:
    return MessageText(
        "payment_reminder",
        _both(
            "Erinnerung: Gebühr für Ihren Antrag {reference}",
            "Reminder: fee for your application {reference}",
            facts,
        ),
        _both(
            "Die Gebühr von {amount} für Ihren Antrag auf {service} ist noch nicht bezahlt. "
            "Bitte bezahlen Sie bis zum {due}; sonst gilt der Antrag als zurückgenommen.",
            "The fee of {amount} for your application for {service} has not been paid yet. "
            "Please pay by {due}; otherwise the application counts as withdrawn.",
            facts,
        ),
    )


# The outcome in the words of the kind of decision: a tax is festgesetzt and a certificate
# ausgestellt; only an application is granted or refused (issue 20).
_OUTCOME_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "application": {
        "approved": ("Ihrem Antrag wurde stattgegeben.", "Your application has been approved."),
        "rejected": ("Ihr Antrag wurde abgelehnt.", "Your application has been rejected."),
    },
    "assessment": {
        "approved": (
            "Die Steuer oder Abgabe wurde festgesetzt; Betrag und Fälligkeiten stehen im Bescheid.",
            "The tax or charge has been assessed; the notice states the amount and due dates.",
        ),
        "rejected": (
            "Es wurde nichts festgesetzt; die Gründe stehen im Bescheid.",
            "Nothing has been assessed; the notice gives the reasons.",
        ),
    },
    "certificate": {
        "approved": ("Ihre Bescheinigung wurde ausgestellt.", "Your certificate has been issued."),
        "rejected": (
            "Die Bescheinigung wurde nicht ausgestellt.",
            "The certificate was not issued.",
        ),
    },
}


def _notified(facts: MessageFacts) -> MessageText:
    words = _OUTCOME_WORDS.get(facts.decision_kind, _OUTCOME_WORDS["application"])
    outcome_de, outcome_en = words.get(
        facts.outcome or "",
        ("Über Ihren Antrag wurde entschieden.", "Your application has been decided."),
    )
    review_de = (
        " Der Bescheid wurde automatisiert erlassen; Sie können verlangen, dass eine Person "
        "ihn überprüft (Art. 22 Abs. 3 DSGVO)."
        if facts.automated
        else ""
    )
    review_en = (
        " The notice was issued automatically; you can ask for a person to review it "
        "(Art. 22(3) GDPR)."
        if facts.automated
        else ""
    )
    # The remedy the service's regime gives; a Klage is named, never offered as a Widerspruch.
    remedy_de, remedy_en = {
        "einspruch": (
            " Gegen den Bescheid können Sie bis zum {deadline} Einspruch einlegen.",
            " You can lodge an objection (Einspruch) until {deadline}.",
        ),
        "klage": (
            " Gegen den Bescheid können Sie bis zum {deadline} Klage beim Verwaltungsgericht "
            "erheben; wo, steht im Bescheid.",
            " You can bring an action before the administrative court until {deadline}; the "
            "notice says where.",
        ),
        "none": ("", ""),
    }.get(
        facts.remedy_kind or "",
        (
            " Gegen den Bescheid können Sie bis zum {deadline} Widerspruch einlegen.",
            " You can lodge an objection until {deadline}.",
        ),
    )
    if facts.reasons_without_document is not None:
        reasons = facts.reasons_without_document
        text = _both(
            f"Über Ihren Antrag auf {{service}} wurde entschieden. {outcome_de}",
            f"Your application for {{service}} has been decided. {outcome_en}",
            facts,
        )
        return MessageText(
            "decision",
            _both(
                "Ihr Antrag {reference} ist entschieden",
                "Your application {reference} has been decided",
                facts,
            ),
            Bilingual(f"{text.de} Begründung: {reasons.de}", f"{text.en} Reasons: {reasons.en}"),
        )
    if facts.decision_kind == "certificate" and facts.outcome == "approved":
        # A certificate decides nothing: it is issued, not a Bescheid, and has no remedy.
        return MessageText(
            "decision",
            _both(
                "Ihre Bescheinigung zum Antrag {reference} liegt bereit",
                "Your certificate for application {reference} is ready",
                facts,
            ),
            _both(
                f"{outcome_de} Sie finden sie als PDF auf der Seite Ihres Antrags auf "
                f"{{service}}.{review_de}",
                f"{outcome_en} You will find it as a PDF on the page of your application for "
                f"{{service}}.{review_en}",
                facts,
            ),
        )
    lead_de, lead_en = (
        ("Ihr Bescheid zu „{service}“ liegt vor.", "Your notice on '{service}' is ready.")
        if facts.decision_kind == "assessment"
        else (
            "Über Ihren Antrag auf {service} wurde entschieden.",
            "Your application for {service} has been decided.",
        )
    )
    return MessageText(
        "decision",
        _both(
            "Ihr Bescheid zum Antrag {reference} liegt bereit",
            "Your notice for application {reference} is ready",
            facts,
        ),
        _both(
            f"{lead_de} {outcome_de} Den Bescheid finden Sie als PDF auf der Seite Ihres "
            f"Antrags.{remedy_de}{review_de}",
            f"{lead_en} {outcome_en} You will find the notice as a PDF on the page of your "
            f"application.{remedy_en}{review_en}",
            facts,
        ),
    )


def status_changed(status: str, facts: MessageFacts) -> MessageText:
    """The message for a case that entered ``status`` (see case_state.CITIZEN_RELEVANT)."""
    if status == "awaiting_payment":
        return payment_requested(facts)
    if status == "notified":
        return _notified(facts)
    if status == "withdrawn" and facts.withdrawn_by_system:
        return MessageText(
            "withdrawn",
            _both(
                "Ihr Antrag {reference} gilt als zurückgenommen",
                "Your application {reference} counts as withdrawn",
                facts,
            ),
            _both(
                "Die Gebühr für Ihren Antrag auf {service} wurde nicht bis zum {due} bezahlt. "
                "Der Antrag gilt deshalb als zurückgenommen. Sie können jederzeit einen neuen "
                "Antrag stellen.",
                "The fee for your application for {service} was not paid by {due}. The "
                "application therefore counts as withdrawn. You can apply again at any time.",
                facts,
            ),
        )
    # Only a Widerspruch or Einspruch is lodged in the portal; each is re-examined under its law.
    lodged = "Einspruch" if facts.remedy_kind == "einspruch" else "Widerspruch"
    reexamination = {"einspruch": "§ 367 AO"}.get(facts.remedy_kind or "", "§ 72 VwGO")
    texts: dict[str, tuple[str, str, str, str]] = {
        "referred": (
            "Ihr Antrag {reference} wird von einer Person geprüft",
            "A person is checking your application {reference}",
            "Ihr Antrag auf {service} wird von einer Sachbearbeiterin oder einem "
            "Sachbearbeiter geprüft. Wir benachrichtigen Sie, sobald er entschieden ist.",
            "A clerk is checking your application for {service}. We will let you know as "
            "soon as it is decided.",
        ),
        "in_review": (
            "Ihr Antrag {reference} ist in Prüfung",
            "Your application {reference} is being reviewed",
            "Eine Sachbearbeiterin oder ein Sachbearbeiter prüft Ihren Antrag auf {service}. "
            "Wir benachrichtigen Sie über das Ergebnis.",
            "A clerk is reviewing your application for {service}. We will let you know the result.",
        ),
        "awaiting_citizen": (
            "Rückfrage zu Ihrem Antrag {reference}",
            "Question about your application {reference}",
            "Zu Ihrem Antrag auf {service} hat die Behörde eine Frage: {question} Bitte "
            "antworten Sie auf der Seite Ihres Antrags.",
            "The authority has a question about your application for {service}: {question} "
            "Please answer on the page of your application.",
        ),
        "objection": (
            f"Ihr {lodged} zum Antrag {{reference}} ist eingegangen",
            "Your objection on application {reference} has been received",
            f"Wir haben Ihren {lodged} gegen den Bescheid zu Ihrem Antrag auf {{service}} "
            f"erhalten. Die Behörde prüft den Bescheid erneut ({reexamination}) und teilt Ihnen "
            "das Ergebnis mit.",
            "We have received your objection against the notice on your application for "
            "{service}. The authority reviews the notice again and will tell you the result.",
        ),
        "withdrawn": (
            "Sie haben Ihren Antrag {reference} zurückgenommen",
            "You have withdrawn your application {reference}",
            "Ihr Antrag auf {service} ist zurückgenommen und wird nicht weiter bearbeitet.",
            "Your application for {service} is withdrawn and will not be processed further.",
        ),
    }
    if status not in texts:
        raise ValueError(f"no mailbox message for status {status!r}")
    subject_de, subject_en, body_de, body_en = texts[status]
    return MessageText(status, _both(subject_de, subject_en, facts), _both(body_de, body_en, facts))


def review_requested(facts: MessageFacts) -> MessageText:
    period = {"einspruch": "Einspruchsfrist", "klage": "Klagefrist"}.get(
        facts.remedy_kind or "", "Widerspruchsfrist"
    )
    return MessageText(
        "review",
        _both(
            "Überprüfung Ihres Bescheids {reference} beantragt",
            "Review of your notice {reference} requested",
            facts,
        ),
        _both(
            "Sie haben verlangt, dass eine Person den automatisiert erlassenen Bescheid zu "
            "Ihrem Antrag auf {service} überprüft (Art. 22 Abs. 3 DSGVO). Die Behörde teilt "
            f"Ihnen das Ergebnis mit. Die {period} bis zum {{deadline}} läuft weiter.",
            "You asked for a person to review the automatically issued notice on your "
            "application for {service} (Art. 22(3) GDPR). The authority will tell you the "
            "result. The objection period until {deadline} keeps running.",
            facts,
        ),
    )


def incident_taken_over(facts: MessageFacts) -> MessageText:
    """A step failed for good: the citizen learns that a person takes over, not the fault."""
    return MessageText(
        "incident",
        _both(
            "Ihr Antrag {reference} wird von einer Person weiterbearbeitet",
            "A person is taking over your application {reference}",
            facts,
        ),
        _both(
            "Bei der automatischen Bearbeitung Ihres Antrags auf {service} ist eine technische "
            "Störung aufgetreten. Eine Sachbearbeiterin oder ein Sachbearbeiter kümmert sich "
            "darum; Sie müssen nichts tun. Ihre Angaben und eine bereits geleistete Zahlung "
            "bleiben erhalten.",
            "A technical fault occurred while your application for {service} was processed "
            "automatically. A member of staff is taking care of it; you need not do anything. "
            "Your details and any payment you made are kept.",
            facts,
        ),
    )


@dataclass(frozen=True)
class MailText:
    subject: str
    body: str


def notification_mail(salutation_name: str, mailbox_url: str) -> MailText:
    """The only mail we send: 'there is news, log in'. No reference, no service, no content."""
    name = " ".join(salutation_name.split())[:120]
    greeting_de = f"Guten Tag {name}," if name else "Guten Tag,"
    greeting_en = f"Hello {name}," if name else "Hello,"
    body = (
        f"{greeting_de}\n\n"
        "in Ihrem Postfach bei Knopfdruck liegt eine neue Nachricht für Sie. "
        "Sie können sie nach der Anmeldung hier lesen:\n"
        f"{mailbox_url}\n\n"
        "Diese E-Mail wurde automatisch versandt. Bitte antworten Sie nicht darauf.\n\n"
        "--\n"
        f"{greeting_en}\n\n"
        "there is a new message for you in your Knopfdruck mailbox. Log in to read it:\n"
        f"{mailbox_url}\n"
    )
    return MailText("Neue Nachricht in Ihrem Postfach (New message in your mailbox)", body)
