"""/openapi.json states the text rule on the request side (issue 14, item 3)."""

from __future__ import annotations

import re
from typing import Any

from backend.api.v1_case_actions import NON_BLANK
from backend.domain.text import MAX_TEXT_CHARS
from knopfdruck.textschema import TEXT_PATTERN, declare_text_rule


def _document(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return {
        "paths": {
            "/x/{id}": {
                "post": {
                    "parameters": [
                        {"in": "path", "name": "id", "schema": {"type": "string"}},
                        {"in": "header", "name": "h", "schema": {"type": "string"}},
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/In"}}
                        }
                    },
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Out"}}
                            }
                        }
                    },
                }
            }
        },
        "components": {"schemas": {"In": body, "Out": response}},
    }


def test_request_strings_get_the_rule_and_responses_do_not() -> None:
    body = {
        "type": "object",
        "properties": {
            "remark": {"anyOf": [{"type": "string", "maxLength": 1000}, {"type": "null"}]},
            "reason": {"type": "string", "pattern": NON_BLANK},
            "day": {"type": "string", "format": "date"},
            "answers": {"type": "object", "additionalProperties": True},
        },
    }
    doc = declare_text_rule(
        _document(body, {"type": "object", "properties": {"s": {"type": "string"}}})
    )
    props = doc["components"]["schemas"]["In"]["properties"]
    assert props["remark"]["anyOf"][0] == {
        "type": "string",
        "maxLength": 1000,
        "pattern": TEXT_PATTERN,
    }
    assert props["day"] == {"type": "string", "format": "date"}
    assert props["answers"]["propertyNames"]["pattern"] == TEXT_PATTERN
    assert props["answers"]["additionalProperties"]["anyOf"][0]["maxLength"] == MAX_TEXT_CHARS
    path, header = doc["paths"]["/x/{id}"]["post"]["parameters"]
    assert path["schema"]["pattern"] == TEXT_PATTERN
    assert "pattern" not in header["schema"]
    assert doc["components"]["schemas"]["Out"]["properties"]["s"] == {"type": "string"}

    reason = re.compile(props["reason"]["pattern"])
    assert reason.search("Bitte prüfen") and reason.search("  x  ")
    assert not reason.search("   ") and not reason.search("x\x00") and not reason.search("\u202ex")


def test_anchored_patterns_exclude_the_refused_characters_in_their_negated_classes() -> None:
    email = {"type": "string", "pattern": "^[^@ ]{1,64}@[^@ ]+\\.[^@ ]+$"}
    doc = declare_text_rule(_document({"type": "object", "properties": {"e": email}}, {}))
    pattern = re.compile(doc["components"]["schemas"]["In"]["properties"]["e"]["pattern"])
    assert pattern.search("name@example.org")
    assert not pattern.search("na\x01me@example.org")
