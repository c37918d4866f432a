"""The official XBezahldienste 1.2.0 OpenAPI component schemas as jsonschema validators."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC = (
    Path(__file__).parent / "fixtures/standards/xbezahldienste/XBezahldienste-v1.2.0.openapi.yaml"
)


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert loaded["info"]["version"] == "1.2.0"
    return loaded


@lru_cache(maxsize=16)
def validator(component: str) -> jsonschema.Draft4Validator:
    """A validator of ``#/components/schemas/<component>``.

    OpenAPI 3.0 schemas are a dialect of JSON Schema draft 4 (boolean exclusiveMinimum); the
    keywords it adds (discriminator, example, deprecated, format hints) only annotate. The whole
    spec is the root, so the component's $refs resolve in place.
    """
    root = {"allOf": [{"$ref": f"#/components/schemas/{component}"}], **spec()}
    return jsonschema.Draft4Validator(root, format_checker=jsonschema.FormatChecker())


def errors(component: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(component).iter_errors(instance)
    ]
