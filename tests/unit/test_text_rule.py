"""The pure text rule (issue 14, item 3): what it refuses, where it says, what it normalises."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from backend.domain.text import (
    MAX_JSON_DEPTH,
    MAX_TEXT_CHARS,
    SCHEMA_REFUSED,
    TextRefused,
    clean_json,
    clean_pairs,
    clean_text,
    readable,
    text_problem,
)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (json.loads('"Anmerkung \\ud800"'), "text.surrogate"),
        ("Anmerkung \x00", "text.control"),
        ("a\x1bb", "text.control"),
        ("a\x85b", "text.control"),  # C1 control
        ("rechnung\u202efdp.exe", "text.bidi"),
        ("a\u2066b", "text.bidi"),
        ("a\ufffeb", "text.noncharacter"),
        ("a\U0010ffffb", "text.noncharacter"),
        ("a\ufdd0b", "text.noncharacter"),
        ("x" * (MAX_TEXT_CHARS + 1), "text.too_long"),
    ],
)
def test_refused_with_its_location_and_without_the_value(value: str, kind: str) -> None:
    with pytest.raises(TextRefused) as refused:
        clean_text(value, ("body", "remark"))
    assert refused.value.kind == kind
    assert refused.value.loc == ("body", "remark")
    assert value not in str(refused.value) and value not in refused.value.message


def test_ordinary_text_is_kept_and_normalised_to_nfc() -> None:
    text = "Straße 1\r\n\tÄrger mit dem Müll – 😀, שלום, العربية"
    assert clean_text(text) == text
    decomposed = unicodedata.normalize("NFD", "Köln")
    assert decomposed != "Köln"
    assert clean_text(decomposed) == "Köln"
    assert clean_text("x" * MAX_TEXT_CHARS) == "x" * MAX_TEXT_CHARS


def test_json_names_the_path_to_the_refused_string() -> None:
    document = json.loads('{"answers": {"strasse": "ok", "ort": ["K\\u00f6ln", "\\ud800"]}}')
    with pytest.raises(TextRefused) as refused:
        clean_json(document, ("body",))
    assert refused.value.loc == ("body", "answers", "ort", 1)


def test_a_refused_key_is_reported_at_its_parent() -> None:
    with pytest.raises(TextRefused) as refused:
        clean_json({"answers": {"a\x00": "x"}}, ("body",))
    assert refused.value.loc == ("body", "answers")


def test_json_depth_is_limited() -> None:
    ok: object = "x"
    for _ in range(MAX_JSON_DEPTH):
        ok = [ok]
    assert clean_json(ok) == ok
    with pytest.raises(TextRefused) as refused:
        clean_json({"answers": {"ort": [ok]}}, ("body",))
    assert refused.value.kind == "json.too_deep"
    assert refused.value.loc == ("body", "answers", "ort")


def test_json_keys_and_values_are_normalised() -> None:
    nfd = unicodedata.normalize("NFD", "Größe")
    assert clean_json({nfd: [nfd, 1, None, True]}) == {"Größe": ["Größe", 1, None, True]}


def test_pairs_name_the_value_by_its_field() -> None:
    assert clean_pairs([("q", "Köln")], ("query",)) == [("q", "Köln")]
    with pytest.raises(TextRefused) as refused:
        clean_pairs([("remark", "a\x00")], ("body",))
    assert refused.value.loc == ("body", "remark")


def test_stored_surrogates_become_readable() -> None:
    stored = json.loads('{"answers": {"ort": "K\\ud800ln"}, "list": ["\\udfff"], "n": 1}')
    assert readable(stored) == {"answers": {"ort": "K\ufffdln"}, "list": ["\ufffd"], "n": 1}
    json.dumps(readable(stored), ensure_ascii=False).encode()  # encodable now


def test_the_schema_class_refuses_exactly_what_the_rule_refuses_in_the_bmp() -> None:
    refused = re.compile(f"[{SCHEMA_REFUSED}]")
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # not expressible in an ECMA class without the u flag (see SCHEMA_REFUSED)
        char = chr(code)
        assert bool(refused.search(char)) == (text_problem(char) is not None), hex(code)
