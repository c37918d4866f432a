"""Hypothesis strategies of hostile input, shared by the API and the form fuzzers.

Every value comes labelled with its input class, so a fuzzer can report its failures grouped by
route and class ("lone surrogates on POST /mailbox/email") instead of one opaque example.
The classes the edge's text validation answers with 422 are named in EDGE_CLASSES.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes

import httpx
from hypothesis import strategies as st

# Sizes for the "long" class: just past the edge's 10 000-character limit (in characters, also
# for multi-byte ones), then 64 kB and 1 MB of UTF-8 (3 MB percent-encoded: drawn rarely).
LONG_SIZES = (10_001, 65_537, 1_000_000)
DEEP_JSON_DEPTH = 1000


class RawEncoded(str):
    """A value already percent-encoded (and possibly malformed) that encoders send unchanged."""


def _with_context(core: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The hostile part alone, or hidden inside ordinary text as a real attacker would send it."""
    plain = st.sampled_from(["", "Erika", "Musterstraße 1", "12345", "a@example.org"])
    return st.one_of(core, st.builds(lambda a, b, c: a + b + c, plain, core, plain))


def _codepoints(points: list[int]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from([chr(p) for p in points]), min_size=1, max_size=6).map("".join)


SURROGATES = [*range(0xD800, 0xD804), 0xDBFF, 0xDC00, 0xDFFF]
C0_C1 = [*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)]
BIDI = [0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
NONCHARACTERS = [0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF, 0x1FFFE, 0x1FFFF, 0x10FFFE, 0x10FFFF]
MALFORMED_PERCENT = [
    "%", "%2", "%ZZ", "%%", "%e9", "%C3", "%C0%AF", "%ED%A0%80", "%FF%FE", "%F4%90%80%80",
    "%00", "%0", "a%2", "%C3%28", "+%2B+",
]  # fmt: skip
"""Truncated escapes, Latin-1 bytes, overlong and surrogate UTF-8, NUL: what a broken or hostile
client puts on the wire. Sent unquoted (RawEncoded)."""

MARKUP = ["<script>alert(1)</script>", "{{7*7}}", "{% raw %}", "' OR '1'='1", "../../etc/passwd",
          "${jndi:x}", "\r\nSet-Cookie: a=b", "javascript:alert(1)", "//evil.example"]  # fmt: skip
"""Injection probes: harmless when every layer escapes, a 500 or a reflection when one does not."""

HOSTILE: dict[str, st.SearchStrategy[str]] = {
    "lone surrogates": _with_context(_codepoints(SURROGATES)),
    "NUL": _with_context(st.sampled_from(["\x00", "a\x00b", "\x00" * 8])),
    "C0/C1 controls": _with_context(_codepoints(C0_C1)),
    "bidi overrides": _with_context(_codepoints(BIDI)),
    "noncharacters": _with_context(_codepoints(NONCHARACTERS)),
    "combining flood": st.integers(50, 5_000).map(lambda n: "a" + "\u0301\u0336" * n),
    "long strings": st.sampled_from(LONG_SIZES).flatmap(
        lambda n: st.sampled_from(["x", "ä", "€", "😀"]).map(
            lambda c: c * max(LONG_SIZES[0], n // len(c.encode()))
        )
    ),
    "malformed percent-encoding": st.sampled_from(MALFORMED_PERCENT).map(RawEncoded),
    "markup and templates": st.sampled_from(MARKUP),
    "odd but valid unicode": st.sampled_from(
        ["\ufeff", "👩\u200d👩\u200d👧", "ﬁ", "İ", "ß" * 3, "Ǆ", "\u00a0", "\u3000", "Ａ", "𝔘"]
    ),
}
"""Each class of hostile text, by the name the reports use."""

EDGE_CLASSES = frozenset(
    {"lone surrogates", "NUL", "C0/C1 controls", "bidi overrides", "long strings", "deep JSON"}
)
"""Classes the text validation at the edge refuses with 422 (issue 14): until it is in place,
a server error for one of these is that missing validation, not a new bug."""


def hostile_text() -> st.SearchStrategy[tuple[str, str]]:
    """(class, value) of any hostile class; the slow long strings are drawn least."""
    return st.sampled_from(sorted(HOSTILE)).flatmap(
        lambda name: HOSTILE[name].map(lambda value: (name, value))
    )


def deep_json(depth: int = DEEP_JSON_DEPTH) -> str:
    """JSON nested `depth` times, as text: json.dumps itself would stop at Python's recursion."""
    return "[" * depth + "]" * depth if depth % 2 else '{"a":' * depth + "1" + "}" * depth


HUGE_NUMBERS = ["1" + "0" * 400, "9" * 5_000, "1e999999", "-1e309", "1e-999999", "-0", "NaN",
                "Infinity", "-Infinity", "123456789012345678901234567890.5"]  # fmt: skip
"""Number literals past every native range (and the ones Python's json accepts beyond JSON)."""


def huge_number() -> st.SearchStrategy[str]:
    """A JSON number literal that no int64, float or 4300-digit limit holds."""
    return st.sampled_from(HUGE_NUMBERS)


def quote_value(value: str) -> str:
    """Percent-encode a value as UTF-8, lone surrogates included (as a broken client would)."""
    if isinstance(value, RawEncoded):
        return str(value)
    return quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")


def encode_urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    """application/x-www-form-urlencoded body of the pairs, in order, duplicates kept."""
    return "&".join(f"{quote_value(k)}={quote_value(v)}" for k, v in pairs).encode("ascii")


def encode_multipart(pairs: list[tuple[str, str]]) -> tuple[bytes, str]:
    """multipart/form-data body of the text pairs and its content type."""
    boundary = "kdfuzz" + secrets.token_hex(8)
    out = bytearray()
    for name, value in pairs:
        name_bytes = name.encode("utf-8", "surrogatepass").replace(b'"', b"%22")
        out += b"--" + boundary.encode() + b"\r\n"
        out += b'Content-Disposition: form-data; name="' + name_bytes + b'"\r\n\r\n'
        out += value.encode("utf-8", "surrogatepass") + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def encode_query(pairs: list[tuple[str, str]]) -> str:
    """A query string of the pairs, encoded like a form body."""
    return "&".join(f"{quote_value(k)}={quote_value(v)}" for k, v in pairs)


def retried(send: Callable[[], httpx.Response]) -> httpx.Response:
    """The answer, asking once more if a kept-alive connection was found closed: the server
    drops its connection after a 500, and the next request on it must not be blamed for that."""
    try:
        return send()
    except (httpx.ReadError, httpx.RemoteProtocolError):
        return send()


@dataclass
class Findings:
    """What a fuzzer saw: requests sent, and failures by (route or form, input class)."""

    forms: list[str] = field(default_factory=list)
    requests: int = 0
    pages: int = 0
    failures: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def report(self, classes: frozenset[str], inside: bool) -> str:
        """One line per failing (route, class), for the classes in (or outside) `classes`."""
        lines = []
        for (where, label), seen in sorted(self.failures.items()):
            if (label in classes) == inside:
                lines.append(f"{where} [{label}] x{len(seen)}: {seen[0]}")
        return "\n".join(lines)
