"""`knopfdruck feedback list`: where the feedback the portal stores is read and answered."""

from __future__ import annotations

import argparse
import json

from backend.settings import Settings


def cmd_feedback_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print the newest messages as JSON lines, optionally for one authority."""
    from backend.context import build_context
    from backend.legal.feedback import recent

    ctx = build_context(settings)
    try:
        rows = recent(ctx, limit=args.limit)
    finally:
        ctx.close()
    for row in rows:
        if args.authority and row.authority != args.authority:
            continue
        line = row.model_dump(mode="json")
        print(json.dumps(line, ensure_ascii=False, sort_keys=True))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feedback = sub.add_parser("feedback", help="feedback sent with the portal's forms")
    commands = feedback.add_subparsers(dest="feedback_command", required=True)
    listing = commands.add_parser("list", help="newest first, one JSON object per line")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--authority", default="", help="only this authority's messages")
    listing.set_defaults(func=cmd_feedback_list)
