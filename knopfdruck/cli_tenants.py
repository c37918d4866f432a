"""`knopfdruck tenants validate|list|new|activate`: onboarding a municipality without code.

A data centre adds a town by writing files (docs/tenants.md, "Onboarding a municipality"):
`tenants new` scaffolds `tenant.yaml` with TODO markers that `validate` refuses until filled in,
`tenants activate` scaffolds an overlay listing exactly what the template leaves to the town,
and `tenants validate` checks every template × tenant combination with file:line errors.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from knopfdruck.cli_args import fail

if TYPE_CHECKING:
    from backend.settings import Settings
    from backend.tenants.loader import Tenancy


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Hook the `tenants` command group into the CLI."""
    tenants = sub.add_parser("tenants", help="the authorities the platform serves").add_subparsers(
        dest="tenants_command", required=True
    )
    validate = tenants.add_parser(
        "validate", help="check every tenant and overlay against the service templates"
    )
    _folders(validate)
    validate.set_defaults(func=cmd_tenants_validate)
    listing = tenants.add_parser("list", help="tenants, their ARS and activated services")
    _folders(listing)
    listing.set_defaults(func=cmd_tenants_list)
    new = tenants.add_parser("new", help="scaffold tenants/<id>/tenant.yaml")
    new.add_argument("id", help="slug, e.g. bergheim")
    new.add_argument("--ars", required=True, help="Amtlicher Regionalschlüssel, 12 digits")
    new.add_argument("--name", required=True, help="e.g. 'Stadt Bergheim'")
    new.add_argument("--level", choices=("municipality", "district"), default="municipality")
    new.add_argument("--tenants", default="", help="tenants folder (default: settings)")
    new.set_defaults(func=cmd_tenants_new)
    route = tenants.add_parser(
        "route", help="which tenant is competent for a residence, service by service"
    )
    where = route.add_mutually_exclusive_group(required=True)
    where.add_argument("--ars", help="the residence's Amtlicher Regionalschlüssel (12 digits)")
    where.add_argument("--postcode", help="the tenants whose territory has this postcode")
    _folders(route)
    route.set_defaults(func=cmd_tenants_route)
    reference = tenants.add_parser("reference", help="write docs/tenants-reference.md")
    reference.add_argument("--output", "-o", default="docs/tenants-reference.md")
    reference.set_defaults(func=cmd_tenants_reference)
    activate = tenants.add_parser(
        "activate", help="scaffold the overlay that switches a service on for a tenant"
    )
    activate.add_argument("tenant", help="tenant id")
    activate.add_argument("service", help="service template id")
    _folders(activate)
    activate.set_defaults(func=cmd_tenants_activate)


def _folders(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenants", default="", help="tenants folder (default: settings)")
    parser.add_argument("--services", default="", help="services folder (default: settings)")


def load(args: argparse.Namespace, settings: Settings) -> tuple[Tenancy, list[str], list[str]]:
    """Tenancy, its problems and the templates' problems, from the folders the flags name."""
    from backend.context import connectors_for
    from backend.definitions.loader import load_tree
    from backend.tenants.loader import load_tenants

    services = Path(args.services) if args.services else settings.services_dir
    tenants = Path(args.tenants) if args.tenants else settings.tenants_folder()
    connectors = connectors_for(settings)
    templates, template_problems = load_tree(services, connectors)
    tenancy, problems = load_tenants(tenants, templates, connectors)
    return tenancy, problems, template_problems


def cmd_tenants_validate(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every tenant and overlay is valid, 1 otherwise, 2 without a tenants folder."""
    folder = Path(args.tenants) if args.tenants else settings.tenants_folder()
    if not folder.is_dir():
        return fail(f"{folder}: no such directory")
    tenancy, problems, template_problems = load(args, settings)
    for line in template_problems + problems:
        print(line, file=sys.stderr)
    if template_problems:
        print(
            f"note: {len(template_problems)} problem(s) in service templates; overlays of an "
            "invalid template are reported as naming no valid template",
            file=sys.stderr,
        )
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    count = sum(len(services) for services in tenancy.activations.values())
    print(f"{folder}: {len(tenancy.tenants)} tenant(s) with {count} activated service(s) valid")
    return 1 if template_problems else 0


def cmd_tenants_list(args: argparse.Namespace, settings: Settings) -> int:
    """One line per valid tenant: id, ARS, name, and its activated services."""
    tenancy, problems, _template_problems = load(args, settings)
    for tenant_id, tenant in sorted(tenancy.tenants.items()):
        services = ", ".join(sorted(tenancy.activations.get(tenant_id, {}))) or "-"
        print(f"{tenant_id:<16} {tenant.ars}  {tenant.land}  {tenant.name:<28} {services}")
    if problems:
        print(f"{len(problems)} problem(s): see `knopfdruck tenants validate`", file=sys.stderr)
        return 1
    return 0


_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def cmd_tenants_new(args: argparse.Namespace, settings: Settings) -> int:
    """Write a tenant skeleton; refuses to overwrite or to start from a wrong ARS."""
    from backend.tenants.models import LAND_OF_ARS_PREFIX
    from backend.tenants.scaffold import tenant_skeleton

    if not _SLUG.match(args.id):
        return fail(f"{args.id!r} is no slug (lower-case letters, digits and '-')")
    if not re.fullmatch(r"[0-9]{12}", args.ars) or args.ars[:2] not in LAND_OF_ARS_PREFIX:
        return fail(f"{args.ars!r} is no Amtlicher Regionalschlüssel (12 digits, a Land prefix)")
    if not args.name.strip() or len(args.name) > 200 or "\n" in args.name:
        return fail("--name must be one line of up to 200 characters")
    folder = (Path(args.tenants) if args.tenants else settings.tenants_folder()) / args.id
    if folder.exists():
        return fail(f"{folder} already exists")
    (folder / "services").mkdir(parents=True)
    (folder / "tests").mkdir()
    file = folder / "tenant.yaml"
    file.write_text(
        tenant_skeleton(args.id, args.ars, args.name.strip(), args.level), encoding="utf-8"
    )
    print(f"created {file}")
    print("next: fill in every TODO, then `knopfdruck tenants validate`;")
    print(f"      switch services on with `knopfdruck tenants activate {args.id} <service>`")
    return 0


def cmd_tenants_activate(args: argparse.Namespace, settings: Settings) -> int:
    """Write an overlay skeleton that names what the template leaves to this tenant."""
    from backend.tenants.scaffold import overlay_skeleton

    tenancy, _problems, _template_problems = load(args, settings)
    tenant = tenancy.tenants.get(args.tenant)
    if tenant is None:
        return fail(f"unknown or invalid tenant {args.tenant!r} (see `tenants validate`)")
    from backend.context import connectors_for
    from backend.definitions.loader import load_tree

    services = Path(args.services) if args.services else settings.services_dir
    templates, _ = load_tree(services, connectors_for(settings))
    versions = [entry.definition for entry in templates if entry.definition.id == args.service]
    if not versions:
        return fail(f"no valid service template {args.service!r}")
    template = max(versions, key=lambda definition: definition.valid_from)
    local = template.local
    if local is None:
        return fail(
            f"service {args.service!r} declares nothing local and cannot be activated by a tenant"
        )
    if local.lands and tenant.land not in local.lands:
        return fail(
            f"service {args.service!r} is written for the law of {', '.join(local.lands)}; "
            f"{tenant.id} is in {tenant.land}"
        )
    if not tenant.covers(local.competence):
        return fail(f"service {args.service!r} is a {local.competence} service; {tenant.id} is not")
    file = tenancy.folders[tenant.id] / "services" / f"{args.service}.yaml"
    if file.exists():
        return fail(f"{file} already exists")
    file.parent.mkdir(exist_ok=True)
    file.write_text(overlay_skeleton(template, tenant), encoding="utf-8")
    print(f"created {file}")
    print("next: fill in every TODO, then `knopfdruck tenants validate`")
    return 0


def cmd_tenants_reference(args: argparse.Namespace, settings: Settings) -> int:
    """Write the generated format reference (tenant.yaml, overlays, the templates' local:)."""
    from backend.tenants.reference import format_tenant_reference

    Path(args.output).write_text(format_tenant_reference(), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def cmd_tenants_route(args: argparse.Namespace, settings: Settings) -> int:
    """One line per service: the competent tenant and whether it offers the service here."""
    from backend.context import connectors_for
    from backend.definitions.catalogue import Catalogue
    from backend.definitions.loader import load_tree
    from backend.tenants.routing import competent_tenant, tenants_for_postcode

    tenancy, problems, _template_problems = load(args, settings)
    if problems:
        print(f"{len(problems)} problem(s): see `knopfdruck tenants validate`", file=sys.stderr)
    if args.postcode is not None:
        if not re.fullmatch(r"[0-9]{5}", args.postcode):
            return fail(f"{args.postcode!r} is no postcode (five digits)")
        found = tenants_for_postcode(tenancy, args.postcode)
        for tenant in found:
            print(f"{tenant.id:<16} {tenant.ars}  {tenant.name}")
        if not found:
            print(f"no tenant has the postcode {args.postcode}")
        return 0
    if not re.fullmatch(r"[0-9]{12}", args.ars):
        return fail(f"{args.ars!r} is no Amtlicher Regionalschlüssel (12 digits)")
    services = Path(args.services) if args.services else settings.services_dir
    templates, _ = load_tree(services, connectors_for(settings))
    for template in Catalogue(templates).all():
        answer = competent_tenant(tenancy, template, args.ars)
        if answer.tenant is None:
            if template.local:
                print(f"{template.id:<28} {answer.body} (no tenant on this platform)")
            else:
                print(f"{template.id:<28} {answer.body} (not a local service: its own area only)")
        else:
            state = "offered here" if answer.activated else "competent, not activated yet"
            print(f"{template.id:<28} {answer.tenant.id} ({answer.body}): {state}")
    return 0
