"""Payment commands: `knopfdruck payments booking-export` for the cash office."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from backend.settings import Settings


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is no date YYYY-MM-DD") from None


def cmd_booking_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the day's booking export (docs/standards/xbezahldienste.md) to a file or stdout."""
    from sqlmodel import Session

    from backend.db import engine_for
    from backend.payments.booking_export import booking_csv, booking_lines

    engine = engine_for(settings)
    try:
        with Session(engine) as session:
            lines = booking_lines(session, args.date)
    finally:
        engine.dispose()
    text = booking_csv(lines)
    if args.out:
        target = Path(args.out)
        partial = target.with_name(target.name + ".part")
        partial.write_text(text, encoding="utf-8", newline="")
        partial.replace(target)  # the finance system never reads half a file
        print(f"{len(lines)} booking lines for {args.date.isoformat()} written to {target}")
    else:
        sys.stdout.write(text)
    return 0


def register(sub: Any) -> None:
    """Hook the payment commands into the `knopfdruck` parser (called by cli.build_parser)."""
    payments = sub.add_parser("payments", help="fees and the cash office").add_subparsers(
        dest="payments_command", required=True
    )
    export = payments.add_parser(
        "booking-export", help="CSV of the fees paid on one day, for the cash office"
    )
    export.add_argument("--date", type=_day, required=True, help="German calendar day YYYY-MM-DD")
    export.add_argument("--out", default="", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_booking_export)
