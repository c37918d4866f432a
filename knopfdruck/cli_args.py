"""Argument types the CLI's commands share, so bad input is a usage error, never a traceback."""

from __future__ import annotations

import argparse
import sys
from datetime import date


def iso_day(value: str) -> date:
    """A calendar day YYYY-MM-DD; anything else is refused by argparse with exit code 2."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is no date YYYY-MM-DD") from None


def cases_at_once(value: str) -> int:
    """A worker's concurrency, 1 to 1024: 0 or less would take no case, and nobody would know."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is no whole number") from None
    if not 1 <= number <= 1024:
        raise argparse.ArgumentTypeError(f"{number} cases at once: give 1 to 1024")
    return number


def fail(message: str, code: int = 2) -> int:
    """One line on stderr and an exit code: how every command reports bad input."""
    print(f"knopfdruck: {message}", file=sys.stderr)
    return code
