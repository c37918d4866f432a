"""Decisions per second with typed fields (issue 15), against the evaluator as it was before.

Run from the repository root:

    .venv/bin/python benchmarks/rule_evaluation.py [--rounds 30] [--cases 200]

Both sides decide the same cases of the unit tests' "rechner" definition (every rule kind:
eligibility, calculations with rounding, decision tables, a threshold), interleaved round by
round so that the machine's noise falls on both alike. The baseline is the evaluator before
issue 15: it passed the values as given, so it is fed values already typed (Decimal, int), the
only input on which it decided correctly. The measured side is today's `decide`, fed the
values as the portal stores them (decimals as exact strings) and typing them itself with
`typed_fields`. The type checker (cel-cpp) runs only at validate time and is not on this path.
Printed: the median milliseconds per batch of each, their ratio (baseline / typed; 1.00 means
the same speed, above 1 faster) and the load average, since this 2-core machine is shared.
Both sides must give the same decisions, or the run fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.definitions import ServiceDefinition, load_definition  # noqa: E402
from backend.rules import evaluate  # noqa: E402
from prefill.configuration import build_default_registry  # noqa: E402

RECHNER = ROOT / "tests" / "unit" / "fixtures" / "definitions" / "valid" / "rechner"
DAY = date(2025, 6, 1)


def _cases(count: int) -> list[dict[str, Any]]:
    """Applicants spread over the outcomes: granted, rejected for income, different classes."""
    return [
        {
            "geburtsdatum": f"{1950 + n % 50}-0{1 + n % 9}-1{n % 10}",
            "wohnort": "Köln" if n % 7 else "Bonn",
            "einkommen": f"{18000 + (n * 397) % 15000}.{n % 100:02d}",
            "kinder": n % 5,
            "x": f"{n % 40}.{n % 1000:03d}",
        }
        for n in range(count)
    ]


def _typed_by_hand(case: Mapping[str, Any]) -> dict[str, Any]:
    """What a caller had to pass to the old evaluator: numbers already as numbers."""
    return {**case, "einkommen": Decimal(case["einkommen"]), "x": Decimal(case["x"])}


def _untyped(definition: ServiceDefinition, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The old evaluator's handling of field values: passed on as given."""
    return dict(fields)


def main() -> int:
    """Measure both ways in one run and print medians, ratio and load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    definition = load_definition(RECHNER, build_default_registry())
    stored = _cases(args.cases)
    by_hand = [_typed_by_hand(case) for case in stored]
    typed = evaluate.typed_fields

    def baseline() -> list[Any]:
        evaluate.typed_fields = _untyped
        try:
            return [evaluate.decide(definition, case, DAY) for case in by_hand]
        finally:
            evaluate.typed_fields = typed

    def measured() -> list[Any]:
        return [evaluate.decide(definition, case, DAY) for case in stored]

    if [(d.outcome, d.amounts) for d in baseline()] != [(d.outcome, d.amounts) for d in measured()]:
        print("the two ways decide differently: nothing to compare", file=sys.stderr)
        return 1
    times: dict[str, list[float]] = {"baseline": [], "typed": []}
    for _ in range(args.rounds):
        for name, run in (("baseline", baseline), ("typed", measured)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["baseline"]) * 1000
    mine = statistics.median(times["typed"]) * 1000
    print(f"rounds {args.rounds}, {args.cases} decisions per batch")
    print(f"before issue 15 (values typed by the caller)  median {base:7.1f} ms")
    print(f"typed_fields (values as stored)               median {mine:7.1f} ms")
    print(f"ratio (baseline / typed) {base / mine:.2f}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
