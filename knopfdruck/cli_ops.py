"""Operator commands: `config-doc`, `check-worker`, `retention run` and `export-case`
(our own ZIP, or xdomea 3.0.0 for the E-Akte)."""

from __future__ import annotations

import argparse
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from backend.settings import Settings


def cmd_config_doc(args: argparse.Namespace, settings: Settings) -> int:
    """Write docs/configuration.md from the settings model, or check that it is current."""
    from backend.settings_doc import configuration_markdown

    text = configuration_markdown()
    if args.check:
        target = Path(args.output or "docs/configuration.md")
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(
                f"knopfdruck: {target} is out of date; run `knopfdruck config-doc -o {target}`",
                file=sys.stderr,
            )
            return 1
        print(f"{target} is current")
        return 0
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_check_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Container health check of a worker: a heartbeat from this host is fresh in the database."""
    from sqlmodel import Session, col, select

    from backend.cases.worker import _db_now
    from backend.columns import aware
    from backend.db import engine_for
    from backend.records.models import WorkerHeartbeat

    engine = engine_for(settings)
    try:
        now = _db_now(engine)
        with Session(engine) as session:
            rows = session.exec(
                select(WorkerHeartbeat).where(col(WorkerHeartbeat.hostname) == socket.gethostname())
            ).all()
    finally:
        engine.dispose()
    fresh = [
        r
        for r in rows
        if aware(r.last_seen) > now - timedelta(seconds=settings.worker_dead_after_s)
    ]
    if not fresh:
        print(f"no live worker heartbeat from {socket.gethostname()}", file=sys.stderr)
        return 1
    print(f"worker {fresh[0].executor_id} is alive")
    return 0


def cmd_retention_run(args: argparse.Namespace, settings: Settings) -> int:
    """Delete (or with --dry-run, count) the cases past their service's retention period."""
    from backend.context import build_context
    from backend.retention import run_retention

    ctx = build_context(settings)
    try:
        report = run_retention(ctx, dry_run=args.dry_run)
    finally:
        ctx.close()
    verb = "would delete" if args.dry_run else "deleted"
    for service, count in sorted(report.by_service.items()):
        print(f"{service}: {verb} {count} case(s)")
    print(f"{verb} {report.cases} case(s), {report.documents} document(s)")
    if report.waiting_for_eakte:
        # Retention deletes a case only once the E-Akte has acknowledged its hand-over.
        print(
            f"kept {len(report.waiting_for_eakte)} due case(s) until the E-Akte acknowledges "
            f"their xdomea hand-over: {', '.join(report.waiting_for_eakte[:20])}"
            + (" …" if len(report.waiting_for_eakte) > 20 else "")
        )
    return 0


def report_retention_log(engine: Engine, case_id: str = "") -> bool:
    """Part of `audit verify`: the tombstones' own chain, and what became of a deleted case.

    A deleted case has no case log left to verify; its tombstone keeps the head hash of the log
    as it was, and the tombstones form a hash chain, so a removed deletion record shows.
    """
    from sqlmodel import Session

    from backend.records.models import RetentionRecord
    from backend.retention import verify_retention_log

    with Session(engine) as session:
        report = verify_retention_log(session)
        tombstone = (
            session.exec(
                select(RetentionRecord).where(col(RetentionRecord.case_id) == case_id)
            ).first()
            if case_id
            else None
        )
    if tombstone is not None:
        print(
            f"case {case_id} was deleted on {tombstone.deleted_at:%Y-%m-%d} after its retention "
            f"period ({tombstone.retention_days} days, {tombstone.legal_basis}); its "
            f"{tombstone.events} events ended in hash {tombstone.chain_head}"
        )
    if not report.ok:
        print(
            f"retention log: chain broken at record {report.broken_at}: {report.problem}",
            file=sys.stderr,
        )
        return False
    print(f"retention log: {report.records} deletion(s), chain intact")
    return True


def cmd_export_case(args: argparse.Namespace, settings: Settings) -> int:
    """Write one case's full file as a ZIP for the E-Akte (backend/cases/export.py)."""
    from datetime import UTC, datetime

    from backend.cases.export import export_case
    from backend.cases.xdomea import build_package
    from backend.cases.xdomea_check import XdomeaInvalid
    from backend.context import build_context
    from backend.errors import NotFound

    ctx = build_context(settings)  # sets the field keys, so encrypted values are readable
    try:
        if args.format == "xdomea":
            # xdomea 3.0.0 FVDaten.SGOAblegen.0605, validated before it is written.
            data = build_package(ctx, args.case_id, created_at=datetime.now(UTC)).content
        else:
            data = export_case(ctx.engine, args.case_id, exported_at=datetime.now(UTC))
    except NotFound:
        print(f"knopfdruck: no case with id {args.case_id}", file=sys.stderr)
        return 1
    except XdomeaInvalid as exc:
        print(f"knopfdruck: the xdomea message does not validate: {exc}", file=sys.stderr)
        return 1
    finally:
        ctx.close()
    default = f"vorgang-{args.case_id}" + ("-xdomea" if args.format == "xdomea" else "")
    target = Path(args.output or f"{default}.zip")
    target.write_bytes(data)
    print(f"{target}: {len(data)} bytes")
    return 0


def register(sub: Any) -> None:
    """Hook the operator commands into the `knopfdruck` parser (called by cli.build_parser)."""
    doc = sub.add_parser("config-doc", help="print docs/configuration.md from the settings model")
    doc.add_argument("--output", "-o", default="", help="write to this file instead of stdout")
    doc.add_argument(
        "--check", action="store_true", help="exit 1 when the file (default docs/…) is stale"
    )
    doc.set_defaults(func=cmd_config_doc)

    check = sub.add_parser(
        "check-worker", help="health check: a worker on this host has a fresh heartbeat"
    )
    check.set_defaults(func=cmd_check_worker)

    retention = sub.add_parser("retention", help="retention periods").add_subparsers(
        dest="retention_command", required=True
    )
    run = retention.add_parser(
        "run", help="delete cases and documents past their service's retention period"
    )
    run.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    run.set_defaults(func=cmd_retention_run)

    export = sub.add_parser(
        "export-case", help="write a case's full file (data, documents, audit chain) as a ZIP"
    )
    export.add_argument("case_id", help="the case id (32 hex digits)")
    export.add_argument("--output", "-o", default="", help="ZIP file (default vorgang-<id>.zip)")
    export.add_argument(
        "--format",
        choices=("knopfdruck", "xdomea"),
        default="knopfdruck",
        help="knopfdruck: our own ZIP with manifest (default); xdomea: an xdomea 3.0.0 "
        "FVDaten.SGOAblegen.0605 message with its documents, for the E-Akte",
    )
    export.set_defaults(func=cmd_export_case)
