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


def configuration_markdown() -> str:
    prefix = Settings.model_config.get("env_prefix", "")
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default is PydanticUndefined else default
        type_name = getattr(field.annotation, "__name__", str(field.annotation))
        rows.append(
            f"| `{prefix}{name.upper()}` | {_cell(type_name)} | `{_cell(shown)}` "
            f"| {_cell(field.description or '')} |"
        )
    return HEADER + "\n".join(rows) + "\n"
