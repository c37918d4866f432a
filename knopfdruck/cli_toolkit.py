"""The integrator toolkit: `knopfdruck services new | preview | import-fim | reference`.

Preview renders through `backend/cases/preview.py` (shared with the console's designer), with
an in-process sandbox whatever KNOPFDRUCK_SANDBOX says: it serves nothing and renders files
for the integrator from test personas only (issue 14, item 7).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from backend.definitions.constraints import local_today
from backend.settings import Settings
from knopfdruck.cli_args import fail as _fail
from knopfdruck.cli_args import iso_day

REFERENCE_FILE = Path("docs/integrators-reference.md")


def cmd_new(args: argparse.Namespace, settings: Settings) -> int:
    from backend.definitions.scaffold import ScaffoldError, scaffold_service

    services_dir = Path(args.services) if args.services else settings.services_dir
    try:
        scaffold = scaffold_service(services_dir, args.slug)
    except ScaffoldError as exc:
        return _fail(str(exc))
    for file in scaffold.files:
        print(f"created {file.as_posix()}")
    # The next steps must work as printed, also for a folder other than the configured one.
    folder = f" --services {services_dir.as_posix()}" if args.services else ""
    print(
        f"next: knopfdruck services validate {scaffold.folder.as_posix()}   "
        f"and   knopfdruck services test {args.slug}{folder}"
    )
    return 0


def cmd_import_fim(args: argparse.Namespace, settings: Settings) -> int:
    from backend.context import connectors_for
    from backend.definitions.fim import FimImportError, import_fim

    try:
        slug, text = import_fim(
            Path(args.file), slug=args.slug or None, connectors=connectors_for(settings)
        )
    except FimImportError as exc:
        return _fail(str(exc))
    return write_skeleton(args, settings, slug, text)


def write_skeleton(args: argparse.Namespace, settings: Settings, slug: str, text: str) -> int:
    """Print or store an imported skeleton (import-fim, import-xzufi), never over another."""
    from backend.definitions.loader import DEFINITION_FILE
    from backend.definitions.skeleton_text import todo_lines

    if args.stdout:
        sys.stdout.write(text)
        return 0
    services_dir = Path(args.services) if args.services else settings.services_dir
    target = services_dir / slug / DEFINITION_FILE
    if target.exists() and not args.force:
        return _fail(f"{target.as_posix()} already exists; use --force to overwrite or --slug")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target.as_posix()} ({todo_lines(text)} line(s) with TODO to fill in)")
    print(f"next: knopfdruck services validate {target.parent.as_posix()}")
    return 0


def cmd_reference(args: argparse.Namespace, settings: Settings) -> int:
    from backend.definitions.reference import format_reference

    text = format_reference()
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target.as_posix()}")
    return 0


def _parse_answers(pairs: list[str], definition: Any) -> dict[str, Any]:
    """--answer id=value, typed by the field, so previews can show any branch of a template."""
    fields = {field.id: field for field in definition.fields}
    answers: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in fields:
            known = ", ".join(fields)
            raise ValueError(f"--answer {pair!r}: expected <field>=<value> with a field of {known}")
        kind = fields[key].type
        try:
            if kind == "integer":
                answers[key] = int(raw)
            elif kind == "decimal":
                answers[key] = Decimal(raw)
            elif kind == "boolean":
                answers[key] = raw.lower() in ("1", "true", "ja", "yes")
            elif kind == "date":
                answers[key] = date.fromisoformat(raw)
            else:
                answers[key] = raw
        except ValueError as exc:
            raise ValueError(f"--answer {pair!r}: not a valid {kind}: {exc}") from None
    return answers


def cmd_preview(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cases.preview import RenderError, preview_case, render_preview
    from backend.context import build_context
    from backend.definitions.catalogue import Catalogue
    from backend.errors import NotFound
    from sandbox.personas import PERSONAS, persona_by_id

    persona = persona_by_id(args.persona)
    if persona is None:
        known = ", ".join(p.id for p in PERSONAS)
        return _fail(f"unknown persona '{args.persona}' (sandbox personas: {known})")
    if args.services:
        settings.services_dir = Path(args.services)
    ctx = build_context(settings)
    try:
        catalogue = ctx.catalogue
        if args.tenant:
            # The notice as this tenant issues it: its authority, court, account and fees.
            if args.tenant not in ctx.tenancy.tenants:
                known = ", ".join(sorted(ctx.tenancy.tenants)) or "none"
                return _fail(f"unknown tenant '{args.tenant}' (tenants: {known})")
            catalogue = Catalogue(ctx.tenancy.entries(args.tenant))
            if args.slug not in catalogue:
                return _fail(f"tenant '{args.tenant}' has not activated '{args.slug}'")
        try:
            definition = catalogue.get(args.slug, args.version or None)
        except NotFound as exc:
            return _fail(exc.message)
        if args.version and definition.version != args.version:
            return _fail(f"service '{args.slug}' has no version '{args.version}'")
        reference_date = args.date or local_today()
        try:
            answers = _parse_answers(args.answer, definition)
        except ValueError as exc:
            return _fail(str(exc))
        preview = preview_case(ctx.connectors, definition, persona, answers, reference_date)
        decision = preview.decision
        outcomes = (
            [args.outcome]
            if args.outcome
            else sorted({o for d in definition.documents for o in d.on})
        )
        out_dir = (
            Path(args.output) if args.output else settings.data_dir / "preview" / definition.id
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        print(
            f"{definition.rule_version}, persona {persona.id}, reference date "
            f"{reference_date.isoformat()}: the rules decide '{decision.outcome}'"
        )
        folder = ctx.catalogue.folder(definition.id)
        for outcome in outcomes:
            for document in definition.documents:
                if outcome not in document.on:
                    continue
                try:
                    pdf = render_preview(
                        ctx.settings, ctx.renderer, folder, preview, document.id, outcome
                    )
                except RenderError as exc:
                    if outcome == decision.outcome:
                        return _fail(f"{definition.id}: document '{document.id}': {exc.message}", 1)
                    # Another outcome than the data reach lacks what only that outcome computes
                    # (an approval's amounts after a referral): say so, render the rest.
                    print(
                        f"note: '{document.id}' for '{outcome}' not rendered: the rules decide "
                        f"'{decision.outcome}' for this data ({exc.message}); "
                        "--answer FIELD=VALUE reaches other outcomes",
                        file=sys.stderr,
                    )
                    continue
                target = out_dir / f"{document.id}-{outcome}-{persona.id}.pdf"
                target.write_bytes(pdf)
                written.append(target)
        if not written:
            return _fail(
                f"service '{definition.id}' issues no document for {', '.join(outcomes)}", 1
            )
        for path in written:
            print(path.as_posix())
        return 0
    finally:
        ctx.close()


def register(services: Any) -> None:
    """Add the toolkit's subcommands to `knopfdruck services`."""
    new = services.add_parser("new", help="scaffold a new service that validates and tests green")
    new.add_argument("slug", help="service slug, e.g. sondernutzung")
    new.add_argument("--services", default="", help="services folder (default: settings)")
    new.set_defaults(func=cmd_new)

    preview = services.add_parser(
        "preview", help="render a service's notice and certificate templates to PDF"
    )
    preview.add_argument("slug")
    preview.add_argument("--persona", required=True, help="sandbox persona id, e.g. erika")
    preview.add_argument("--answer", action="append", default=[], metavar="FIELD=VALUE")
    preview.add_argument(
        "--date", type=iso_day, default=None, help="reference date (default: today)"
    )
    preview.add_argument("--version", default="", help="a version other than today's")
    preview.add_argument(
        "--outcome",
        default="",
        choices=["", "approved", "rejected", "referred"],
        help="render only the documents of this outcome (default: every outcome)",
    )
    preview.add_argument("--output", "-o", default="", help="folder (default: var/preview/<slug>)")
    preview.add_argument("--services", default="", help="services folder (default: settings)")
    preview.add_argument(
        "--tenant", default="", help="the service as this tenant activated it (tenants/<id>)"
    )
    preview.set_defaults(func=cmd_preview)

    fim = services.add_parser(
        "import-fim", help="FIM XDatenfelder 2.0/3.0 schema or group -> definition skeleton"
    )
    fim.add_argument("file", help="the FIM XML file")
    fim.add_argument("--slug", default="", help="service slug (default: from the FIM name)")
    fim.add_argument("--services", default="", help="services folder (default: settings)")
    fim.add_argument("--stdout", action="store_true", help="print instead of writing")
    fim.add_argument("--force", action="store_true", help="overwrite an existing service.yaml")
    fim.set_defaults(func=cmd_import_fim)

    reference = services.add_parser(
        "reference", help="write the format reference generated from the definition models"
    )
    reference.add_argument("--output", "-o", default=str(REFERENCE_FILE), help="'-' for stdout")
    reference.set_defaults(func=cmd_reference)
