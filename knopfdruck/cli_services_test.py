"""`knopfdruck services test [slug]`: run the integrator test cases of services/<slug>/tests/.

Always against a fresh in-process sandbox, whatever KNOPFDRUCK_SANDBOX says: an integrator's
tool that serves nothing, whose inputs are the test personas (issue 14, item 7).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.settings import Settings


def register(services: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Hook `services test` into the `services` command group."""
    parser = services.add_parser(
        "test",
        help="run the YAML test cases (persona, answers, date → outcome, amounts, referrals)",
    )
    parser.add_argument("slug", nargs="*", help="services to test (default: every service)")
    parser.add_argument(
        "--path", default="", help="folder of service definitions (default: the configured one)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list passing cases as well")
    parser.set_defaults(func=cmd_services_test)


def cmd_services_test(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every case passes, 1 when any fails, 2 when the tests cannot run."""
    from backend.cases.service_tests import CaseFileError, load_cases, run_service_tests_sync
    from backend.context import connectors_for
    from backend.definitions.catalogue import Catalogue
    from backend.definitions.loader import load_tree

    path = Path(args.path) if args.path else settings.services_dir
    if not path.is_dir():
        print(f"knopfdruck: {path}: no such directory", file=sys.stderr)
        return 2
    connectors = connectors_for(settings)
    loaded, problems = load_tree(path, connectors)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print("fix the definitions first (knopfdruck services validate)", file=sys.stderr)
        return 2
    catalogue = Catalogue(loaded)
    slugs = list(args.slug) or sorted(d.id for d in catalogue.all())
    unknown = [slug for slug in slugs if slug not in catalogue]
    if unknown:
        print(f"knopfdruck: unknown service(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    try:
        for slug in slugs:
            load_cases(slug, catalogue.folder(slug))  # report every file problem before running
        results = run_service_tests_sync(catalogue, connectors, slugs)
    except CaseFileError as exc:
        print(f"knopfdruck: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for result in results:
        label = f"{result.case.service} :: {result.case.name}"
        if result.passed:
            if args.verbose:
                print(f"PASS  {label} ({result.outcome})")
            continue
        failed += 1
        print(f"FAIL  {label}  [{result.case.file}]")
        for line in result.differences:
            print(f"      {line}")
    without = [slug for slug in slugs if not any(r.case.service == slug for r in results)]
    for slug in without:
        print(f"note: {slug} has no test cases (add {slug}/tests/*.yaml)")
    passed = len(results) - failed
    print(f"{passed} passed, {failed} failed, {len(results)} case(s) in {len(slugs)} service(s)")
    return 1 if failed else 0
