"""The text rule for everything a person or a client types: valid Unicode a database, a PDF and
a browser can all hold, without characters that hide or reorder what a clerk reads (issue 14,
item 3). Pure: the HTTP edge (knopfdruck/textguard.py) applies it to every request, and what was
stored before the rule existed is made readable by `readable` on the way out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

MAX_TEXT_CHARS = 10_000
"""Longest string accepted anywhere; a field's own, shorter limit still applies behind it."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of JSON arrays and objects accepted; no form of ours needs more than three."""

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls except tab, line feed and carriage return (which a textarea sends).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Embeddings, overrides and isolates can make "rechnung\u202efdp.exe" read as "rechnungexe.pdf".
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_NONCHARACTER = re.compile(
    "[\ufdd0-\ufdef"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
    )
    + "]"
)
SCHEMA_REFUSED = (
    r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    r"\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff"
)
"""The refused characters of the Basic Multilingual Plane as the body of a regular-expression
class that ECMA (JSON Schema) and Python read alike, for /openapi.json. Lone surrogates and the
astral noncharacters are left out: a class cannot name them in ECMA without the u flag, and JSON
text that a client encodes correctly holds no lone surrogate anyway."""
_CHECKS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        _SURROGATE,
        "text.surrogate",
        "ungültiges Unicode (einzelnes Surrogat) (invalid Unicode: lone surrogate)",
    ),
    (_CONTROL, "text.control", "Steuerzeichen sind nicht erlaubt (control character)"),
    (
        _BIDI,
        "text.bidi",
        "Zeichen zur Schreibrichtungssteuerung sind nicht erlaubt (bidirectional control)",
    ),
    (_NONCHARACTER, "text.noncharacter", "Unicode-Nichtzeichen sind nicht erlaubt (noncharacter)"),
)

Location = tuple[str | int, ...]


class TextRefused(ValueError):
    """A string (or JSON document) the rule refuses; names where it is, never what it holds."""

    def __init__(self, loc: Location, kind: str, message: str) -> None:
        super().__init__(kind)
        self.loc = loc
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{'.'.join(str(p) for p in self.loc)}: {self.message}"


def _too_long(limit: int) -> str:
    return f"höchstens {limit} Zeichen (at most {limit} characters)"


def text_problem(value: str, max_chars: int = MAX_TEXT_CHARS) -> tuple[str, str] | None:
    """(kind, message) of the first thing the rule refuses in `value`, or None."""
    if len(value) > max_chars:
        return "text.too_long", _too_long(max_chars)
    for pattern, kind, message in _CHECKS:
        found = pattern.search(value)
        if found is not None:
            return kind, f"{message}, Position {found.start() + 1}"
    return None


def clean_text(value: str, loc: Location = (), max_chars: int = MAX_TEXT_CHARS) -> str:
    """The value in NFC, or TextRefused naming `loc`."""
    problem = text_problem(value, max_chars)
    if problem is not None:
        raise TextRefused(loc, *problem)
    normal = unicodedata.normalize("NFC", value)
    if len(normal) > max_chars:  # NFC may (rarely) lengthen a string
        raise TextRefused(loc, "text.too_long", _too_long(max_chars))
    return normal


def clean_json(
    value: Any,
    loc: Location = (),
    *,
    long_texts: Mapping[Location, int] | None = None,
    depth: int = 0,
) -> Any:
    """A decoded JSON document with every key and string cleaned, or TextRefused.

    `long_texts` allows the few documents that are longer than any answer (a service
    definition under review) a larger limit at their exact location.
    """
    if isinstance(value, str):
        return clean_text(value, loc, (long_texts or {}).get(loc, MAX_TEXT_CHARS))
    if isinstance(value, dict | list):
        if depth >= MAX_JSON_DEPTH:
            named = list(loc)
            while named and isinstance(named[-1], int):
                named.pop()  # the field, not a path of 32 list indexes
            raise TextRefused(
                tuple(named),
                "json.too_deep",
                f"höchstens {MAX_JSON_DEPTH} Ebenen verschachtelt (nested too deep)",
            )
        if isinstance(value, list):
            return [
                clean_json(item, (*loc, i), long_texts=long_texts, depth=depth + 1)
                for i, item in enumerate(value)
            ]
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            # A refused key is reported at its parent: its name is the very text refused.
            name = clean_text(key, loc) if isinstance(key, str) else key
            cleaned[name] = clean_json(item, (*loc, name), long_texts=long_texts, depth=depth + 1)
        return cleaned
    return value


def clean_pairs(
    pairs: Sequence[tuple[str, str]],
    loc: Location = (),
    *,
    long_texts: Mapping[Location, int] | None = None,
) -> list[tuple[str, str]]:
    """Form or query (name, value) pairs with both cleaned; a value is reported by its name."""
    cleaned = []
    for name, value in pairs:
        clean_name = clean_text(name, loc)
        where = (*loc, clean_name)
        limit = (long_texts or {}).get(where, MAX_TEXT_CHARS)
        cleaned.append((clean_name, clean_text(value, where, limit)))
    return cleaned


def readable(value: Any) -> Any:
    """Stored text made encodable again: lone surrogates become U+FFFD.

    Rows written before the rule existed may hold them (JSON escapes like \\ud800 survive a
    round trip through the database); without this every page and JSON answer showing such a
    row failed with a 500.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {readable(k): readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(item) for item in value]
    return value
