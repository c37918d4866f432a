"""The daily booking export for the cash office's finance system (layout: docs/standards/
xbezahldienste.md): every fee paid on a German calendar day, under its Kassenzeichen and
booking data, so the Stadtkasse books it without retyping anything."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from backend.columns import aware
from backend.definitions.constraints import GERMAN_ZONE
from backend.payments.models import Payment
from backend.records.models import Case

GERMAN_TIME = GERMAN_ZONE
COLUMNS = (
    "kassenzeichen",
    "buchungstag",
    "betrag",
    "waehrung",
    "haushaltsstelle",
    "sachkonto",
    "gebuehr",
    "aktenzeichen",
    "dienst",
    "zahlungsweg",
    "transaktion",
    "bezahlt_um",
)
"""Version 1 of the layout; a change of meaning or order is a new version, never silent."""


@dataclass(frozen=True)
class BookingLine:
    """One fee of one paid payment: what the cash office books under the Kassenzeichen."""

    kassenzeichen: str
    day: date
    amount: Decimal
    currency: str
    haushaltsstelle: str
    sachkonto: str
    fee: str
    case_reference: str
    service: str
    provider: str
    transaction: str
    paid_at: datetime


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """The German day as an interval of instants (23 or 25 hours at a DST change)."""
    start = datetime.combine(day, time.min, GERMAN_TIME)
    end = datetime.combine(day + timedelta(days=1), time.min, GERMAN_TIME)
    # In UTC, as every time is stored (SQLite keeps no offset).
    return start.astimezone(UTC), end.astimezone(UTC)


def booking_lines(session: Session, day: date) -> list[BookingLine]:
    """Every fee of every payment recorded paid on ``day`` (German time), oldest first."""
    start, end = _day_bounds(day)
    rows = session.exec(
        # Only the case's reference and service: the export needs none of the citizen's data.
        select(Payment, Case.reference, Case.service)
        .join(Case, col(Case.id) == col(Payment.case_id))
        .where(
            Payment.status == "paid",
            col(Payment.paid_at) >= start,
            col(Payment.paid_at) < end,
        )
        .order_by(col(Payment.paid_at), col(Payment.id))
    ).all()
    lines = []
    for payment, case_reference, service in rows:
        assert payment.paid_at is not None
        paid_at = aware(payment.paid_at).astimezone(GERMAN_TIME)
        for item in payment.items:
            booking = item.get("booking") or {}
            lines.append(
                BookingLine(
                    kassenzeichen=payment.kassenzeichen or case_reference,
                    day=day,
                    amount=Decimal(str(item["amount"])),
                    currency=payment.currency,
                    haushaltsstelle=str(booking.get("haushaltsstelle", "")),
                    sachkonto=str(booking.get("sachkonto", "")),
                    fee=str(item["id"]),
                    case_reference=case_reference,
                    service=service,
                    provider=payment.provider,
                    transaction=payment.provider_ref or "",
                    paid_at=paid_at,
                )
            )
    return lines


def _cell(value: str) -> str:
    # A spreadsheet would run a cell starting like a formula (CSV injection); none of ours
    # should, and a value that does is quoted as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def booking_csv(lines: list[BookingLine]) -> str:
    """The export: UTF-8, ';' between cells, '.' as decimal mark, ISO dates, CRLF lines."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(
            [
                _cell(line.kassenzeichen),
                line.day.isoformat(),
                f"{line.amount:.2f}",
                line.currency,
                _cell(line.haushaltsstelle),
                _cell(line.sachkonto),
                line.fee,
                line.case_reference,
                line.service,
                line.provider,
                line.transaction,
                line.paid_at.isoformat(timespec="seconds"),
            ]
        )
    return out.getvalue()
