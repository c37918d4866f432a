"""Every piece of text entering the platform obeys the text rule before a route sees it (issue 14,
item 3).

Before, a lone surrogate in an answer (JSON `"\\ud800"`) was stored and made every later page of
that draft, the clerk's case file and the impact analysis answer 500; a NUL in the remark made
PostgreSQL fail with a 500. Now the path, the query string, JSON bodies, urlencoded forms and
the text parts of multipart forms are checked here against `backend.domain.text`: a refusal is
a 422 naming the field (JSON for the API, the portal's error page for portal and console), and
nothing reaches a route, let alone the database. Accepted text is normalised to NFC.

Bodies are read whole before the route runs; `BodyLimits` outside this layer caps them (1 MiB for
JSON and forms). Multipart bodies (uploads, up to 64 MiB) are spooled to a temporary file while
their text parts are parsed; file contents are not judged (uploads have their own checks).
Signed notifications (webhooks, handover callbacks) are checked but never rewritten: their
signature covers the exact bytes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import IO
from urllib.parse import unquote_to_bytes, urlencode

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.console.impact import MAX_DRAFT_BYTES
from backend.domain.text import (
    MAX_TEXT_CHARS,
    Location,
    TextRefused,
    clean_json,
    clean_pairs,
    clean_text,
)
from knopfdruck.limits import BODY_METHODS, UPLOAD_PREFIXES, WEBHOOK_PREFIXES, send_error

LONG_TEXTS: dict[str, dict[Location, int]] = {
    path: {("body", "definition"): MAX_DRAFT_BYTES}
    for path in ("/api/v1/console/impact", "/console/impact")
}
"""The only texts longer than MAX_TEXT_CHARS: a whole service.yaml a supervisor replays cases
under (the largest real one has 12 000 characters); it gets the impact analysis' own limit."""
MACHINE_BODIES = UPLOAD_PREFIXES
"""Bodies no person typed: the sandbox's stand-in for the federal FIT-Connect service receives
encrypted submissions (JWE, ASCII by construction, with attachments far longer than any text).
Their path and query are still checked."""
SPOOL_IN_MEMORY = 1024 * 1024
"""A multipart body larger than this is spooled to disk while its text parts are checked."""
REPLAY_CHUNK = 64 * 1024
_INVALID_UTF8 = "kein gültiges UTF-8 (not valid UTF-8)"
_MAX_PART_BYTES = 4 * MAX_TEXT_CHARS
"""UTF-8 needs at most 4 bytes a character: a longer text part is too long whatever it holds."""


def _decode(raw: bytes, loc: Location) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TextRefused(loc, "text.invalid_utf8", _INVALID_UTF8) from None


def _pairs(raw: bytes, loc: Location) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs of a query string or urlencoded form, strictly UTF-8."""
    pairs = []
    for chunk in raw.split(b"&"):
        if not chunk:
            continue
        name, _, value = chunk.partition(b"=")
        decoded = _decode(unquote_to_bytes(name.replace(b"+", b" ")), loc)
        where = (*loc, decoded) if _nameable(decoded) else loc
        pairs.append((decoded, _decode(unquote_to_bytes(value.replace(b"+", b" ")), where)))
    return pairs


def _nameable(name: str) -> bool:
    """Whether a field name may itself be named in a refusal."""
    try:
        clean_text(name)
    except TextRefused:
        return False
    return len(name) <= 80


def _clean_form(
    raw: bytes, loc: Location, rewrite: bool, long_texts: Mapping[Location, int] | None = None
) -> bytes:
    """The form (or query) with every name and value cleaned; the same bytes when unchanged."""
    pairs = _pairs(raw, loc)
    cleaned = clean_pairs(pairs, loc, long_texts=long_texts)
    return urlencode(cleaned).encode("ascii") if rewrite and cleaned != pairs else raw


def _clean_json_body(
    raw: bytes, rewrite: bool, long_texts: Mapping[Location, int] | None = None
) -> bytes:
    if not raw.strip():
        return raw
    text = _decode(raw, ("body",))
    try:
        document = json.loads(text)
    except RecursionError:
        raise TextRefused(
            ("body",), "json.too_deep", "zu tief verschachtelt (nested too deep)"
        ) from None
    except ValueError:
        return raw  # not JSON at all: the route's own parser answers that, as before
    cleaned = clean_json(document, ("body",), long_texts=long_texts)
    if not rewrite or cleaned == document:
        return raw
    return json.dumps(cleaned, ensure_ascii=False).encode()


class _MultipartText:
    """Parses a multipart body as it streams by and keeps only its text: names, file names and
    the values of parts without a file (at most what the rule could accept, so memory stays
    bounded); file contents pass unread."""

    def __init__(self, boundary: bytes) -> None:
        self.texts: list[tuple[Location, bytes]] = []
        self.failed = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name: Location = ("body",)
        self._value: bytearray | None = None
        callbacks: dict[str, Callable[..., None]] = {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }
        self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def feed(self, chunk: bytes) -> None:
        if self.failed:
            return
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            self.failed = True  # malformed: the route's own parser answers that, as before

    def _begin(self) -> None:
        self._disposition = b""
        self._name = ("body",)
        self._value = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"")
        self.texts.append((("body",), name))
        decoded = name.decode("utf-8", "replace")
        self._name = ("body", decoded) if _nameable(decoded) else ("body",)
        if b"filename" in options:
            self.texts.append((self._name, options[b"filename"]))
        else:
            self._value = bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._value is not None and len(self._value) <= _MAX_PART_BYTES:
            self._value += data[start:end]

    def _end(self) -> None:
        if self._value is not None:
            self.texts.append((self._name, bytes(self._value)))
            self._value = None

    def check(self) -> None:
        """TextRefused for the first text part the rule refuses."""
        for loc, raw in self.texts:
            if len(raw) > _MAX_PART_BYTES:  # kept only in part: cut, perhaps mid-character
                raise TextRefused(loc, "text.too_long", f"höchstens {MAX_TEXT_CHARS} Zeichen")
            clean_text(_decode(raw, loc), loc)


def _media_type(scope: Scope) -> tuple[str, dict[bytes, bytes]]:
    for key, value in scope["headers"]:
        if key.lower() == b"content-type":
            kind, options = parse_options_header(value)
            return kind.decode("latin-1").lower(), options
    return "", {}


def _with_body_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}


class TextGuard:
    """Pure ASGI middleware applying the text rule to path, query and body (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rewrite = not scope["path"].startswith(WEBHOOK_PREFIXES)
        try:
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            clean_text(_decode(unquote_to_bytes(raw_path), ("path",)), ("path",))
        except TextRefused as refused:
            # The page (or JSON) is built for a harmless path of the same kind, not the refused one.
            harmless = "/api/" if scope["path"].startswith(("/api/", "/sandbox/")) else "/"
            await _refuse(
                {**scope, "path": harmless, "raw_path": harmless.encode(), "query_string": b""},
                send,
                refused,
            )
            return
        try:
            query = _clean_form(scope.get("query_string", b""), ("query",), rewrite)
        except TextRefused as refused:
            await _refuse({**scope, "query_string": b""}, send, refused)
            return
        if query != scope.get("query_string", b""):
            scope = {**scope, "query_string": query}
        kind, options = _media_type(scope)
        long_texts = LONG_TEXTS.get(scope["path"])
        if scope["method"] not in BODY_METHODS or scope["path"].startswith(MACHINE_BODIES):
            await self.app(scope, receive, send)
        elif kind == "application/json" or kind.endswith("+json"):
            await self._buffered(
                scope, receive, send, lambda b: _clean_json_body(b, rewrite, long_texts)
            )
        elif kind == "application/x-www-form-urlencoded":
            await self._buffered(
                scope, receive, send, lambda b: _clean_form(b, ("body",), rewrite, long_texts)
            )
        elif kind == "multipart/form-data" and options.get(b"boundary"):
            await self._multipart(scope, receive, send, options[b"boundary"])
        else:
            await self.app(scope, receive, send)

    async def _buffered(
        self, scope: Scope, receive: Receive, send: Send, clean: Callable[[bytes], bytes]
    ) -> None:
        """JSON and urlencoded bodies: small (BodyLimits), so read whole, clean, hand on."""
        parts: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # gone, or cut off by BodyLimits, which answers 413 itself
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(parts)
        try:
            body = clean(raw)
        except TextRefused as refused:
            await _refuse(scope, send, refused)
            return
        if body is not raw:
            scope = _with_body_length(scope, len(body))
        await self.app(scope, _replay(iter([body]), receive), send)

    async def _multipart(self, scope: Scope, receive: Receive, send: Send, boundary: bytes) -> None:
        """Uploads: spooled while their text parts are parsed, then replayed unchanged."""
        text = _MultipartText(boundary)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return
                chunk = message.get("body", b"")
                spool.write(chunk)
                text.feed(chunk)
                if not message.get("more_body", False):
                    break
            try:
                text.check()
            except TextRefused as refused:
                await _refuse(scope, send, refused)
                return
            spool.seek(0)
            await self.app(scope, _replay(_chunks(spool), receive), send)


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    while chunk := spool.read(REPLAY_CHUNK):
        yield chunk


def _replay(chunks: Iterator[bytes], receive: Receive) -> Receive:
    """The body again for the route, then the client's own messages (disconnect)."""
    upcoming: bytes | None = next(chunks, b"")
    done = False

    async def replayed() -> Message:
        nonlocal upcoming, done
        if done:
            return await receive()
        body, upcoming = upcoming or b"", next(chunks, None)
        done = upcoming is None
        return {"type": "http.request", "body": body, "more_body": not done}

    return replayed


async def _refuse(scope: Scope, send: Send, refused: TextRefused) -> None:
    """422 naming the field and what is wrong with it, never repeating the text itself."""
    loc = [str(p)[:80] for p in refused.loc]
    field = ".".join(p for p in loc if p != "body") or "body"
    detail = {"field": field, "loc": loc, "message": refused.message, "type": refused.kind}
    await send_error(
        scope,
        send,
        422,
        "invalid_input",
        f"Die Eingabe im Feld „{field}“ ist ungültig: {refused.message}. "
        f"(Invalid text in field {field}.)",
        [detail],
    )
