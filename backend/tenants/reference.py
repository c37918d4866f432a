"""docs/tenants-reference.md, generated from the tenant models so it cannot drift.

`knopfdruck tenants reference` writes it; tests/unit/test_tenants.py fails when the committed
file differs from what the models say.
"""

from __future__ import annotations

from backend.definitions.models import Local
from backend.definitions.reference import format_models
from backend.tenants.models import TENANT_FORMAT_VERSION, Overlay, Tenant

HEADER = f"""# Tenant and overlay format v{TENANT_FORMAT_VERSION}: reference

Generated from `backend/tenants/models.py` and `backend/definitions/models/local.py` by
`knopfdruck tenants reference`; do not edit by hand (a test compares this file with the
models). What a tenant is and how to onboard one: see [tenants.md](tenants.md). Every mapping
rejects unknown keys, so a misspelt key is an error with its line, never silently ignored.

`tenants/<id>/tenant.yaml` is a [Tenant](#tenant); `tenants/<id>/services/<service>.yaml` is an
[Overlay](#overlay); what an overlay may set is the template's `local:` block, a
[Local](#local).

"""


def format_tenant_reference() -> str:
    """The tenant, overlay and local-block reference as Markdown."""
    return format_models(HEADER, [Tenant, Overlay, Local])
