"""Notification mail over real SMTP (aiosmtplib), telling apart 'surely not sent' and 'unknown'."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from backend.settings import Settings


class MailNotSent(Exception):
    """The server did not take the mail; trying again cannot send it twice."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class MailOutcomeUnknown(Exception):
    """The connection broke while the mail was being handed over; it may have gone out."""


def mail_enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def build_message(
    settings: Settings, *, to: str, subject: str, body: str, key: str
) -> EmailMessage:
    """A plain-text mail; the Message-ID derives from our outbox id, so copies are recognisable."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "knopfdruck.invalid"
    message["Message-ID"] = make_msgid(idstring=key, domain=domain)
    # RFC 3834: automatic messages must not trigger auto-replies (holiday notices and the like).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8")
    return message


async def _deliver(settings: Settings, message: EmailMessage) -> None:
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_s,
        start_tls=settings.smtp_starttls,
    )
    try:
        await client.connect()
        if settings.smtp_username:
            await client.login(settings.smtp_username, settings.smtp_password)
    except aiosmtplib.SMTPResponseException as exc:
        raise MailNotSent(f"SMTP {exc.code} before sending", permanent=exc.code >= 500) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailNotSent(f"SMTP connection failed: {type(exc).__name__}", permanent=False) from exc
    try:
        await client.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        raise MailNotSent(
            f"SMTP refused the recipient ({codes})", permanent=all(c >= 500 for c in codes)
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        # The server answered with an error code, so it did not accept the mail.
        raise MailNotSent(f"SMTP {exc.code} while sending", permanent=exc.code >= 500) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailOutcomeUnknown(f"connection lost while sending: {type(exc).__name__}") from exc
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def send_mail(settings: Settings, message: EmailMessage) -> None:
    """Hand one mail to the SMTP server; called from a worker thread, never the event loop."""
    asyncio.run(_deliver(settings, message))
