"""/openapi.json states the text rule that TextGuard enforces, so a client (and the API fuzz test,
which checks that every schema-valid request is accepted) learns it from the schema, not from a
422 (issue 14, item 3).

Only what a client sends is annotated: request bodies and path and query parameters (headers are
not checked). Every string gets a maxLength of at most MAX_TEXT_CHARS (a longer declared limit
is the route's own, allowed by TextGuard.LONG_TEXTS) and a pattern without the refused
characters; an existing pattern keeps its meaning with the refused characters added to each of
its negated classes. Free-form answers, which the service checks against its definition, are
declared as what they can be: scalars or a flat list of them, under keys that obey the rule;
so are the extra keys an object without `additionalProperties: false` lets a client send.
"""

from __future__ import annotations

from typing import Any

from backend.domain.text import MAX_TEXT_CHARS, SCHEMA_REFUSED

TEXT_PATTERN = f"^[^{SCHEMA_REFUSED}]*$"
_LEAVE_ALONE = ("enum", "const", "format", "contentMediaType", "contentEncoding")


def _with_rule(pattern: str) -> str:
    """`pattern` with the refused characters excluded everywhere it could match them."""
    strict = pattern.replace("[^", f"[^{SCHEMA_REFUSED}")
    if pattern.startswith("^") and pattern.endswith("$"):
        return strict  # every character is matched by one of its (now stricter) classes
    return f"^[^{SCHEMA_REFUSED}]*(?:{strict})[^{SCHEMA_REFUSED}]*$"


def _string(schema: dict[str, Any]) -> None:
    if any(key in schema for key in _LEAVE_ALONE):
        return
    # A declared limit is the route's own; above MAX_TEXT_CHARS only TextGuard.LONG_TEXTS has one.
    schema.setdefault("maxLength", MAX_TEXT_CHARS)
    pattern = schema.get("pattern")
    schema["pattern"] = TEXT_PATTERN if pattern is None else _with_rule(pattern)


def _answer_value() -> dict[str, Any]:
    text = {"type": "string", "maxLength": MAX_TEXT_CHARS, "pattern": TEXT_PATTERN}
    scalar: list[dict[str, Any]] = [text, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]
    return {"anyOf": [*scalar, {"type": "array", "items": {"anyOf": scalar}}]}


def _annotate(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    if isinstance(schema, list):
        for item in schema:
            _annotate(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _annotate(components.get(name), components, seen)
        return
    if schema.get("type") == "string":
        _string(schema)
    if schema.get("type") == "object":
        # Absent means "anything": extra keys (ignored by the route) obey the rule as well.
        if schema.get("additionalProperties", True) is True:
            schema["additionalProperties"] = _answer_value()
        if schema["additionalProperties"] is not False:
            schema.setdefault(
                "propertyNames",
                {"type": "string", "maxLength": MAX_TEXT_CHARS, "pattern": TEXT_PATTERN},
            )
    for key in ("properties", "patternProperties"):
        for sub in (schema.get(key) or {}).values():
            _annotate(sub, components, seen)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not"):
        if key in schema:
            _annotate(schema[key], components, seen)


def declare_text_rule(openapi: dict[str, Any]) -> dict[str, Any]:
    """Annotate the request side of an OpenAPI document in place (module docstring); returns it."""
    components = openapi.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("path", "query"):
                    _annotate(parameter.get("schema"), components, seen)
            for media in (operation.get("requestBody") or {}).get("content", {}).values():
                _annotate(media.get("schema"), components, seen)
    return openapi
