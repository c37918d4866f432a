"""Payment commands for the cash office: `knopfdruck payments booking-export` and
`knopfdruck payments import-camt`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from backend.settings import Settings
from knopfdruck.cli_args import iso_day


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


def cmd_import_camt(args: argparse.Namespace, settings: Settings) -> int:
    """Match the transfers of a camt.053 statement to open fees; discrepancies go to the console."""
    from backend.context import build_context
    from backend.payments.camt import MAX_BYTES, StatementRefused, import_statement

    path = Path(args.file)
    if not path.is_file() or path.stat().st_size > MAX_BYTES:
        print(f"{path}: no readable statement file (at most {MAX_BYTES} bytes)", file=sys.stderr)
        return 1
    ctx = build_context(settings)
    try:
        report = import_statement(ctx, path.read_bytes())
    except StatementRefused as exc:
        print(f"{path}: refused, nothing imported: {exc.message}", file=sys.stderr)
        return 1
    finally:
        ctx.close()
    counts = ", ".join(f"{name} {count}" for name, count in sorted(report.results.items()))
    print(f"{report.version}: {report.credits} credits; {counts or 'none'}")
    return 0


def register(sub: Any) -> None:
    """Hook the payment commands into the `knopfdruck` parser (called by cli.build_parser)."""
    payments = sub.add_parser("payments", help="fees and the cash office").add_subparsers(
        dest="payments_command", required=True
    )
    export = payments.add_parser(
        "booking-export", help="CSV of the fees paid on one day, for the cash office"
    )
    export.add_argument(
        "--date", type=iso_day, required=True, help="German calendar day YYYY-MM-DD"
    )
    export.add_argument("--out", default="", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_booking_export)
    camt = payments.add_parser(
        "import-camt", help="match a camt.053 bank statement's transfers to open fees"
    )
    camt.add_argument("file", help="camt.053.001.02 or .08 XML file")
    camt.set_defaults(func=cmd_import_camt)
