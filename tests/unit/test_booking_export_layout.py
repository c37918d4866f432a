"""The booking export's day is the German calendar day, its cells are never formulas, and a
fee's booking block is checked where it is written."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from backend.definitions import validate_tree
from backend.payments.booking_export import COLUMNS, BookingLine, _day_bounds, booking_csv
from prefill.configuration import build_default_registry


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


def test_a_malformed_booking_block_is_named_with_file_and_line(tmp_path: Path) -> None:
    source = Path(__file__).parents[2] / "services" / "anwohnerparkausweis"
    shutil.copytree(source, tmp_path / "anwohnerparkausweis")
    definition = tmp_path / "anwohnerparkausweis" / "service.yaml"
    text = definition.read_text(encoding="utf-8")
    line = text.splitlines().index('      sachkonto: "4321000"') + 1
    definition.write_text(text.replace('"4321000"', '"43:21"'), encoding="utf-8")
    problems = validate_tree(tmp_path, build_default_registry())
    assert len(problems) == 1
    assert problems[0].startswith(f"{definition}:{line} fees[0].booking.sachkonto:")
