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


def fail(message: str, code: int = 2) -> int:
    """One line on stderr and an exit code: how every command reports bad input."""
    print(f"knopfdruck: {message}", file=sys.stderr)
    return code
