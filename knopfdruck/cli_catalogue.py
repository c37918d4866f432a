"""Catalogue commands of the XZuFi edge: `knopfdruck catalogue export --format xzufi` and
`knopfdruck services import-xzufi` (docs/standards/xzufi.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from backend.settings import Settings
from knopfdruck.cli_args import fail as _fail
from knopfdruck.cli_toolkit import write_skeleton


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write every active service as XZuFi 2.2; nothing is written unless it all passes."""
    from backend.context import connectors_for
    from backend.definitions.catalogue import load_catalogue
    from backend.definitions.xzufi import (
        Publisher,
        XzufiIncomplete,
        XzufiInvalid,
        catalogue_message,
    )

    services_dir = Path(args.services) if args.services else settings.services_dir
    catalogue = load_catalogue(services_dir, connectors_for(settings))
    try:
        data = catalogue_message(catalogue.all(), Publisher.from_settings(settings))
    except XzufiIncomplete as exc:
        return _fail(f"refusing to export: {exc}")
    except XzufiInvalid as exc:
        return _fail(f"refusing to export: {exc}")
    if not args.output or args.output == "-":
        sys.stdout.buffer.write(data)
        return 0
    target = Path(args.output)
    partial = target.with_name(target.name + ".part")
    try:
        partial.write_bytes(data)
        partial.replace(target)  # the portal network never reads half a file
    except OSError as exc:
        return _fail(f"{target.as_posix()}: cannot write the file: {exc.strerror}", 1)
    print(f"{len(catalogue)} services written to {target.as_posix()} (XZuFi 2.2)")
    return 0


def cmd_import_xzufi(args: argparse.Namespace, settings: Settings) -> int:
    """A new service's skeleton from an XZuFi Leistung, like import-fim."""
    from backend.definitions.xzufi import XzufiImportError, import_xzufi

    try:
        slug, text = import_xzufi(Path(args.file), slug=args.slug or None, leistung=args.leistung)
    except XzufiImportError as exc:
        return _fail(str(exc))
    return write_skeleton(args, settings, slug, text)


def register(sub: Any, services: Any) -> None:
    """Hook `catalogue export` and `services import-xzufi` into the parser (cli.build_parser)."""
    catalogue = sub.add_parser("catalogue", help="the service catalogue for other portals")
    commands = catalogue.add_subparsers(dest="catalogue_command", required=True)
    export = commands.add_parser("export", help="every active service in a catalogue standard")
    export.add_argument("--format", required=True, choices=["xzufi"], help="xzufi: XZuFi 2.2")
    export.add_argument("--output", "-o", default="", help="file to write (default: stdout)")
    export.add_argument("--services", default="", help="services folder (default: settings)")
    export.set_defaults(func=cmd_export)

    xzufi = services.add_parser(
        "import-xzufi", help="XZuFi 2.2 Leistung -> definition skeleton with its texts"
    )
    xzufi.add_argument("file", help="the XZuFi XML file")
    xzufi.add_argument("--slug", default="", help="service slug (default: from the Leistung id)")
    xzufi.add_argument("--leistung", default="", help="id of the Leistung (default: the first)")
    xzufi.add_argument("--services", default="", help="services folder (default: settings)")
    xzufi.add_argument("--stdout", action="store_true", help="print instead of writing")
    xzufi.add_argument("--force", action="store_true", help="overwrite an existing service.yaml")
    xzufi.set_defaults(func=cmd_import_xzufi)
