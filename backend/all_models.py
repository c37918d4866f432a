"""Imports every table module, so SQLModel.metadata is complete for Alembic and schema checks."""

from __future__ import annotations

import backend.models
import backend.models_console
import backend.models_engine
import backend.models_handover
import backend.models_insight
import backend.models_ops
import backend.models_portal
import backend.models_security

__all__ = ["backend"]
