"""Security commands: `knopfdruck security rotate-keys` re-encrypts sensitive fields,
`security rotate-notice-key` gives one tenant a new notice signing key."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from backend.settings import Settings


def cmd_rotate_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every sensitive value with the first configured key (and seal plain ones)."""
    from backend.all_models import METADATA
    from backend.cases.search_index import reindex_all
    from backend.crypto import configure_keys, keys_for, rotate_documents
    from backend.db import engine_for

    configure_keys(keys_for(settings.field_encryption_keys, settings.data_dir))
    engine = engine_for(settings)
    try:
        changed = rotate_documents(engine, METADATA.sorted_tables)
        # The search index's key derives from the first key: rebuild it with the new one.
        indexed = reindex_all(engine)
    finally:
        engine.dispose()
    print(f"re-encrypted {changed} rows with the first key of KNOPFDRUCK_FIELD_ENCRYPTION_KEYS")
    print(f"rebuilt the applicant search index of {indexed} cases")
    return 0


def cmd_reindex_search(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the console's applicant search index (cases from before it existed)."""
    from backend.cases.search_index import reindex_all
    from backend.crypto import configure_keys, keys_for
    from backend.db import engine_for

    configure_keys(keys_for(settings.field_encryption_keys, settings.data_dir))
    engine = engine_for(settings)
    try:
        indexed = reindex_all(engine)
    finally:
        engine.dispose()
    print(f"rebuilt the applicant search index of {indexed} cases")
    return 0


def cmd_rotate_notice_key(args: argparse.Namespace, settings: Settings) -> int:
    """Set one tenant's notice signing key aside; its next notice is signed with a new one."""
    from backend.notices.signing import rotate_key

    tenant = args.tenant or None
    if tenant is not None:
        from backend.context import connectors_for, load_tenancy
        from backend.definitions.catalogue import load_catalogue

        registry = connectors_for(settings)
        tenancy = load_tenancy(settings, load_catalogue(settings.services_dir, registry), registry)
        if tenant not in tenancy.tenants:
            print(
                f"unknown tenant '{tenant}' (known: {', '.join(sorted(tenancy.tenants))})",
                file=sys.stderr,
            )
            return 2
        if tenancy.tenants[tenant].home:
            tenant = None  # the home tenant signs with the platform's first key
    retired = rotate_key(settings.data_dir, tenant)
    who = args.tenant or "the home tenant"
    if retired is None:
        print(f"{who} has no notice key yet; its first notice makes one")
        return 0
    print(f"set {who}'s notice key aside as {retired.name}; its public key stays published, so")
    print("every document it signed still verifies. Restart web and worker processes: the ones")
    print("running sign with the old key until they do.")
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
    reindex = security.add_parser(
        "reindex-search",
        help="rebuild the console's applicant search index (keyed hashes of names, birth dates)",
    )
    reindex.set_defaults(func=cmd_reindex_search)
    notice_key = security.add_parser(
        "rotate-notice-key",
        help="a new notice signing key for one tenant (default: the home tenant); the old one "
        "keeps verifying what it signed",
    )
    notice_key.add_argument("--tenant", default="", help="tenant id (tenants/<id>)")
    notice_key.set_defaults(func=cmd_rotate_notice_key)
