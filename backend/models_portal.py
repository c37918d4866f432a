"""Tables added by the portal work; imported by backend.all_models for migrations and checks."""

from __future__ import annotations
