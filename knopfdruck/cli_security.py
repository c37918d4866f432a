"""Security commands: `knopfdruck security rotate-keys` re-encrypts sensitive fields."""

from __future__ import annotations

import argparse
from typing import Any

from backend.settings import Settings


def cmd_rotate_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every sensitive value with the first configured key (and seal plain ones)."""
    from backend.crypto import configure_keys, keys_for, rotate_documents
    from backend.db import engine_for

    configure_keys(keys_for(settings.field_encryption_keys, settings.data_dir))
    engine = engine_for(settings)
    try:
        changed = rotate_documents(engine)
    finally:
        engine.dispose()
    print(f"re-encrypted {changed} rows with the first key of KNOPFDRUCK_FIELD_ENCRYPTION_KEYS")
    return 0


def register(sub: Any) -> None:
    """Hook the security commands into the `knopfdruck` parser (called by cli.build_parser)."""
    security = sub.add_parser("security", help="keys of the field encryption").add_subparsers(
        dest="security_command", required=True
    )
    rotate = security.add_parser(
        "rotate-keys",
        help="re-encrypt income, IBAN and tax id with the first key (after adding a new one)",
    )
    rotate.set_defaults(func=cmd_rotate_keys)
