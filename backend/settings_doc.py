"""docs/configuration.md is generated from the settings model, so the two cannot drift apart."""

from __future__ import annotations

from pydantic_core import PydanticUndefined

from backend.settings import Settings

HEADER = """# Configuration

Every setting is an environment variable with the prefix `KNOPFDRUCK_`. This file is generated
from `backend/settings.py` by `knopfdruck config-doc > docs/configuration.md`; a test keeps it
current. Empty defaults are derived at start-up as described.

| variable | type | default | meaning |
|---|---|---|---|
"""


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _default(value: object) -> str:
    """As an operator would write it in the environment: `true`, not `True`; empty spelled out."""
    if value is PydanticUndefined:
        return "(required)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "(empty)"
    return f"`{_cell(value)}`"


def configuration_markdown() -> str:
    """The whole of docs/configuration.md, one row per setting in model order."""
    prefix = Settings.model_config.get("env_prefix", "")
    rows = []
    for name, field in Settings.model_fields.items():
        type_name = getattr(field.annotation, "__name__", str(field.annotation))
        rows.append(
            f"| `{prefix}{name.upper()}` | {_cell(type_name)} | {_default(field.default)} "
            f"| {_cell(field.description or '')} |"
        )
    return HEADER + "\n".join(rows) + "\n"
