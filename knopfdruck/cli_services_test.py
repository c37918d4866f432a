"""`knopfdruck services test [slug]`: run the integrator test cases of services/<slug>/tests/.

Always against a fresh in-process sandbox, whatever KNOPFDRUCK_SANDBOX says: an integrator's
tool that serves nothing, whose inputs are the test personas (issue 14, item 7). Every case
also renders the documents its decision issues (issue 15), so a template that fails on real
data fails here. One broken case or one invalid service is reported and the rest still run.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.cases.service_tests import TenantTests
    from backend.definitions.catalogue import Catalogue
    from backend.definitions.loader import LoadedDefinition
    from backend.settings import Settings
    from prefill.connectors.registry import ConnectorRegistry


def register(services: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Hook `services test` into the `services` command group."""
    parser = services.add_parser(
        "test",
        help="run the YAML test cases (persona, answers, date → outcome, amounts, referrals)",
    )
    parser.add_argument("slug", nargs="*", help="services to test (default: every service)")
    parser.add_argument(
        "--services",
        "--path",  # the spelling before issue 15; kept so existing CI scripts keep working
        dest="services",
        default="",
        help="services folder (default: settings)",
    )
    parser.add_argument(
        "--tenant",
        default="",
        help="only the cases of this tenant: its tests/ folder and cases naming it",
    )
    parser.add_argument(
        "--tenants", default="", help="tenants folder (default: settings, with --services unset)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list passing cases as well")
    parser.set_defaults(func=cmd_services_test)


def cmd_services_test(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every case passes, 1 when any fails or a service is invalid, 2 when the
    tests cannot run at all."""
    from backend.cases.service_tests import run_service_tests_sync
    from backend.context import connectors_for
    from backend.definitions.catalogue import Catalogue
    from backend.definitions.loader import load_tree
    from backend.definitions.versions import service_folder
    from backend.documents import NoticeRenderer
    from backend.notices.issue import render_problems

    path = Path(args.services) if args.services else settings.services_dir
    if not path.is_dir():
        print(f"knopfdruck: {path}: no such directory", file=sys.stderr)
        return 2
    connectors = connectors_for(settings)
    loaded, problems = load_tree(path, connectors)
    # A service with a problem is not tested; the others are: one bad definition must not hide
    # whether the rest still decide as expected. A problem line starts with "file:line".
    bad = {service_folder(Path(p.split(" ", 1)[0].rsplit(":", 1)[0])) for p in problems}
    for problem in problems:
        print(problem, file=sys.stderr)
    catalogue = Catalogue([e for e in loaded if service_folder(e.file) not in bad])
    invalid = sorted(
        {folder.name for folder in bad} - {slug for slug in catalogue_slugs(catalogue)}
    )
    slugs = list(args.slug) or sorted(catalogue_slugs(catalogue)) + invalid
    unknown = [slug for slug in slugs if slug not in catalogue and slug not in invalid]
    if unknown:
        print(f"knopfdruck: unknown service(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    skipped = [slug for slug in slugs if slug not in catalogue]
    slugs = [slug for slug in slugs if slug in catalogue]
    tenants, tenant_problems = _tenant_tests(args, settings, path, loaded, connectors)
    for problem in tenant_problems:
        print(problem, file=sys.stderr)
    if args.tenant and args.tenant not in tenants:
        known = ", ".join(sorted(tenants)) or "none"
        print(f"knopfdruck: unknown or invalid tenant {args.tenant!r} ({known})", file=sys.stderr)
        return 2
    if args.tenant:
        slugs = [slug for slug in slugs if slug in tenants[args.tenant].catalogue]
    check = functools.partial(render_problems, settings, NoticeRenderer(path.resolve()))
    results = run_service_tests_sync(
        catalogue, connectors, slugs, check, tenants=tenants, only_tenant=args.tenant or None
    )
    failed = 0
    for result in results:
        label = f"{result.case.service} :: {result.case.name}"
        where = f"{result.case.file}:{result.case.line}" if result.case.line else result.case.file
        if result.passed:
            if args.verbose:
                print(f"PASS  {label} ({result.outcome})")
            continue
        failed += 1
        print(f"FAIL  {label}  [{where}]")
        for line in result.differences:
            print(f"      {line}")
    without = [slug for slug in slugs if not any(r.case.service == slug for r in results)]
    for slug in without:
        where = (
            f"tenants/{args.tenant}/tests/{slug}.yaml" if args.tenant else f"{slug}/tests/*.yaml"
        )
        print(f"note: {slug} has no test cases (add {where})")
    for slug in skipped:
        print(f"SKIP  {slug}: not tested, its definition is invalid (problems above)")
    passed = len(results) - failed
    print(
        f"{passed} passed, {failed} failed, {len(results)} case(s) in {len(slugs)} service(s)"
        + (f", {len(skipped)} invalid service(s) not tested" if skipped else "")
    )
    return 1 if failed or skipped or tenant_problems or (problems and not args.slug) else 0


def _tenant_tests(
    args: argparse.Namespace,
    settings: Settings,
    services: Path,
    loaded: list[LoadedDefinition],
    connectors: ConnectorRegistry,
) -> tuple[dict[str, TenantTests], list[str]]:
    """Each valid tenant's activations and test folder; the platform's tenants go with the
    platform's services folder only, another tree names its tenants with --tenants."""
    from backend.cases.service_tests import TenantTests
    from backend.definitions.catalogue import Catalogue
    from backend.tenants.loader import load_tenants

    if args.tenants:
        folder = Path(args.tenants)
    elif services.resolve() == settings.services_dir:
        folder = settings.tenants_folder()
    else:
        return {}, []
    tenancy, problems = load_tenants(folder, loaded, connectors)
    tests = {
        tenant_id: TenantTests(
            Catalogue(tenancy.entries(tenant_id)), tenancy.tests_folder(tenant_id)
        )
        for tenant_id in tenancy.tenants
    }
    return tests, problems


def catalogue_slugs(catalogue: Catalogue) -> list[str]:
    """Every service id in a catalogue, valid today or not (a test may pin a later version)."""
    return [definition.id for definition in catalogue.all()]
