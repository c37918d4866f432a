"""The booking export's day is the German calendar day, and its cells are never formulas."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from backend.payments.booking_export import COLUMNS, BookingLine, _day_bounds, booking_csv


def test_the_day_is_the_german_day_even_when_the_clocks_change() -> None:
    start, end = _day_bounds(date(2026, 3, 29))  # summer time begins: a day of 23 hours
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 23 * 3600
    start, end = _day_bounds(date(2026, 10, 25))
    assert (end - start).total_seconds() == 25 * 3600


def test_the_layout_is_semicolon_separated_with_a_header_and_no_formulas() -> None:
    line = BookingLine(
        kassenzeichen="6620-2026-ABCD-EFGH",
        day=date(2026, 12, 4),
        amount=Decimal("30"),
        currency="EUR",
        haushaltsstelle="=HYPERLINK(1)",
        sachkonto="4321000",
        fee="gebuehr",
        case_reference="KD-2026-ABCD-EFGH",
        service="anwohnerparkausweis",
        provider="xbezahldienste",
        transaction="05315000:9b1d",
        paid_at=datetime(2026, 12, 4, 11, 0, tzinfo=UTC),
    )
    header, row, end = booking_csv([line]).split("\r\n")
    assert header.split(";") == list(COLUMNS) and end == ""
    assert row.split(";") == [
        "6620-2026-ABCD-EFGH", "2026-12-04", "30.00", "EUR", "'=HYPERLINK(1)", "4321000",
        "gebuehr", "KD-2026-ABCD-EFGH", "anwohnerparkausweis", "xbezahldienste",
        "05315000:9b1d", "2026-12-04T11:00:00+00:00",
    ]  # fmt: skip
