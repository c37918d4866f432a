"""The fuzzers' hostile input reaches the wire as generated: a cleaned value would test nothing."""

from __future__ import annotations

import json

from hypothesis import given, settings

from tests.security.hostile import (
    HOSTILE,
    HUGE_NUMBERS,
    RawEncoded,
    deep_json,
    encode_multipart,
    encode_urlencoded,
    hostile_text,
)


def test_surrogates_nul_and_malformed_escapes_are_sent_as_bytes_not_cleaned() -> None:
    body = encode_urlencoded([("a", "x\ud800"), ("b\x00", "\u202e"), ("c", RawEncoded("%ZZ"))])
    assert body == b"a=x%ED%A0%80&b%00=%E2%80%AE&c=%ZZ"
    multipart, content_type = encode_multipart([("a", "\ud800\x00")])
    assert b"\xed\xa0\x80\x00" in multipart and content_type.startswith("multipart/form-data")


def test_deep_json_is_nested_as_deep_as_asked_and_numbers_are_out_of_range() -> None:
    assert deep_json(1001).count("[") == 1001 and deep_json(1000).count("{") == 1000
    assert json.loads(deep_json(31)) == json.loads("[" * 31 + "]" * 31)
    assert any(len(n) > 4300 for n in HUGE_NUMBERS)  # past Python's int-from-str limit


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(labelled=hostile_text())
def test_every_value_is_labelled_with_its_class(
    labelled: tuple[str, str],
) -> None:
    label, value = labelled
    assert label in HOSTILE and isinstance(value, str)
    if label == "long strings":
        assert len(value) > 10_000  # the edge's limit counts characters
    if label == "lone surrogates":
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if label == "NUL":
        assert "\x00" in value
