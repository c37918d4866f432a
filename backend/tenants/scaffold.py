"""Skeletons for `tenants new` and `tenants activate`: every value a person must supply is a
TODO that `tenants validate` refuses, so a half-filled tenant never goes live."""

from __future__ import annotations

from backend.definitions.models import ServiceDefinition
from backend.tenants.models import LAND_OF_ARS_PREFIX, Tenant


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tenant_skeleton(tenant_id: str, ars: str, name: str, level: str) -> str:
    """tenant.yaml for a new authority, with its Land derived from the ARS."""
    land = LAND_OF_ARS_PREFIX[ars[:2]]
    return f"""# {name}: see docs/tenants.md for every key. Replace each TODO before validating.
id: {tenant_id}
ars: "{ars}"
level: {level}
name: {_quoted(name)}
land: {land}
address: "TODO: street and number, postcode town"
contact:
  email: "TODO: general e-mail address"
  phone: "TODO: general telephone number"
postcodes: ["TODO"]
account:
  holder: "TODO: e.g. Stadtkasse"
  iban: "TODO"
  bic: "TODO"
  bank: "TODO: name of the bank"
# The Verwaltungsgericht whose district covers the territory (§ 52 VwGO and the Land's law).
court:
  name: "TODO: e.g. Verwaltungsgericht Köln"
  at: "TODO: e.g. beim Verwaltungsgericht Köln"
  address: "TODO: postal address"
departments:
  - id: ordnungsamt
    name: "TODO: e.g. {name} – Ordnungsamt"
    at: "TODO: e.g. bei der {name}, Ordnungsamt"
"""


def overlay_skeleton(template: ServiceDefinition, tenant: Tenant) -> str:
    """An overlay listing exactly what the template leaves to this tenant."""
    local = template.local
    assert local is not None
    departments = ", ".join(d.id for d in tenant.departments)
    owner = template.department if tenant.department(template.department) else "TODO"
    lines = [
        f"# {template.title.de}, activated by {tenant.name}. See docs/tenants.md.",
        f"service: {template.id}",
        f"# One of: {departments}",
        f'department: "{owner}"',
    ]
    if template.processing == "external":
        lines += ["handover:", '  destination: "TODO: the FIT-Connect destination id"']
    if local.statutes:
        lines += [
            "# The template's, restate under your own statutes if they differ:",
            f"# legal_basis: {_quoted(template.legal_basis)}",
        ]
    if local.parameters:
        lines.append("parameters:")
        for name, need in local.parameters.items():
            current = template.parameters[name][-1]
            lines += [
                f"  # {need}; the template's: {current.value!r} ({current.legal_reference or '-'})",
                f"  {name}:",
                f'    - {{ valid_from: {current.valid_from.isoformat()}, value: "TODO", '
                'legal_reference: "TODO: your statute" }',
            ]
    for kind, names in (("fee", local.fee_references), ("levy", local.levy_references)):
        if names:
            lines.append(f"{kind}_references:")
            lines += [f'  {name}: "TODO: your statute"' for name in names]
    booked = [fee.id for fee in template.fees if fee.booking is not None]
    levies = [levy.id for levy in template.levies]
    if booked or levies:
        lines.append("# Your cash office's booking of each fee and levy:")
        lines.append("bookings:")
        lines += [
            f'  {name}: {{ kassenzeichen_prefix: "TODO", haushaltsstelle: "TODO", '
            'sachkonto: "TODO" }'
            for name in booked
        ]
        lines += [f'  {name}: {{ kassenzeichen_prefix: "TODO" }}' for name in levies]
    if local.field_bounds:
        lines.append("# Your territory: the template's bounds are another town's.")
        lines.append("field_bounds:")
        fields = {field.id: field for field in template.fields}
        for name in local.field_bounds:
            field = fields[name]
            if field.pattern is not None:
                lines += [
                    f"  {name}:",
                    "    pattern:",
                    '      regex: "TODO: your postcodes, e.g. 5012[67]"',
                    '      description: { de: "TODO", en: "TODO" }',
                ]
            else:
                lines += [
                    f'  {name}: {{ min: "TODO", max: "TODO", '
                    'range_reason: { de: "TODO", en: "TODO" } }',
                ]
    return "\n".join(lines) + "\n"
