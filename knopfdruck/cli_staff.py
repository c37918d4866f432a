"""Staff commands: `knopfdruck staff sync` reads the staff directory (SCIM) once."""

from __future__ import annotations

import argparse
from typing import Any

from backend.settings import Settings


def cmd_staff_sync(args: argparse.Namespace, settings: Settings) -> int:
    """Read the directory now (workers also do it every staff_directory_interval_s)."""
    from backend.console.directory import DirectoryError, sync_directory
    from backend.context import build_context

    ctx = build_context(settings)
    try:
        report = sync_directory(ctx)
    except DirectoryError as exc:
        print(f"staff directory not read: {exc}")
        return 1
    finally:
        ctx.close()
    if report is None:
        print("no staff directory configured (KNOPFDRUCK_STAFF_DIRECTORY_URL)")
        return 1
    print(
        f"staff directory: {report.listed} listed, {report.added} added, "
        f"{report.updated} updated, {report.deactivated} deactivated"
    )
    return 0


def register(sub: Any) -> None:
    """Hook the staff commands into the `knopfdruck` parser (called by cli.build_parser)."""
    staff = sub.add_parser("staff", help="the department staff the console lists").add_subparsers(
        dest="staff_command", required=True
    )
    sync = staff.add_parser("sync", help="read the staff directory (SCIM 2.0) now")
    sync.set_defaults(func=cmd_staff_sync)
