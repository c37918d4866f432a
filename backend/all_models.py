"""Imports every table module, so SQLModel.metadata is complete for Alembic and schema checks."""

from __future__ import annotations

import backend.models
import backend.models_engine
import backend.models_handover
import backend.models_portal

__all__ = ["backend"]
