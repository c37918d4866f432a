"""The one import point that lists every domain's tables, so SQLModel's metadata knows them all.

Each domain owns its tables in `backend/<domain>/models.py` (issue 18). Imported by the
migrations (`backend/migrations/env.py`), the tests, and the two commands that must see every
table at once: key rotation (`knopfdruck security rotate-keys`) and retention, which follows
every foreign key to a case. Domain code never imports it.
"""

from __future__ import annotations

from sqlmodel import SQLModel

import backend.console.models
import backend.department.models
import backend.handover.models
import backend.legal.models

# Imported for their side effect: each module registers its tables on SQLModel.metadata.
import backend.login.models
import backend.notices.models
import backend.notifications.models
import backend.payments.models
import backend.ratelimit
import backend.records.models
import backend.uploads.models

DOMAIN_TABLES = (
    backend.login.models,
    backend.ratelimit,
    backend.records.models,
    backend.console.models,
    backend.department.models,
    backend.handover.models,
    backend.legal.models,
    backend.notices.models,
    backend.notifications.models,
    backend.payments.models,
    backend.uploads.models,
)
"""The modules that own tables, one per domain."""

METADATA = SQLModel.metadata
"""Every table of the platform (the modules above registered themselves on it)."""

__all__ = ["DOMAIN_TABLES", "METADATA"]
