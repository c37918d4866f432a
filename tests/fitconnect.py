"""The published FIT-Connect schemas, checked with a validator independent of the platform's."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs

STANDARDS = Path(__file__).parent / "fixtures" / "standards" / "fit-connect"


@lru_cache(maxsize=1)
def _metadata_validator() -> Any:
    schema = json.loads((STANDARDS / "metadata.schema.v1.0.0.json").read_text(encoding="utf-8"))
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def official_metadata_errors(metadata: Any) -> list[str]:
    """What the official metadata schema says is wrong; empty when the metadata is valid."""
    return [
        f"{list(e.instance_path)}: {e.message}" for e in _metadata_validator().iter_errors(metadata)
    ]
