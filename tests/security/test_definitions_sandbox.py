"""Service definitions and templates are trusted but checked: a hostile integrator's template or
rule reaches neither Python internals, nor the file system, nor the network, nor unbounded CPU.

Complements tests/unit/test_render.py (which blocks sockets): here a real HTTP server on
loopback proves that no request ever arrives, and more sandbox escapes are tried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backend.documents import NoticeRenderer, RenderError
from backend.domain.cel import (
    MAX_COMPREHENSION_NESTING,
    MAX_SOURCE_LENGTH,
    CelSyntaxError,
    compile_expression,
)
from tests.unit.test_render import _write_service, notice_context


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback that records every request it gets."""
    seen: list[str] = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"p { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="{base}/pixel.png" alt="x">',
        '<link rel="stylesheet" href="{base}/a.css">',
        "<style>@import url('{base}/b.css');</style>",
        "<style>@font-face {{ font-family: X; src: url('{base}/f.woff'); }}</style>",
        '<p style="background: url({base}/c.png)">x</p>',
        '<object data="{base}/o.svg" type="image/svg+xml">x</object>',
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="{base}/s.png"/></svg>',
    ],
)
def test_templates_never_reach_a_live_server(
    tmp_path: Path, listener: tuple[str, list[str]], markup: str
) -> None:
    base, seen = listener
    slug = _write_service(tmp_path, "leaky", "n.html", markup.format(base=base))
    try:
        NoticeRenderer(tmp_path).render(slug, "n.html", notice_context())
    except RenderError as refused:
        assert "may not use" in str(refused)
    time.sleep(0.1)
    assert seen == [], f"the template made the renderer fetch {seen}"


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="file:///etc/passwd" alt="x">',
        "<style>@import url('file:///etc/passwd');</style>",
        '<link rel="attachment" href="file:///etc/passwd">',
        '<img src="../../../../../../../../etc/passwd" alt="x">',
    ],
)
def test_templates_cannot_read_files_outside_their_folder(tmp_path: Path, markup: str) -> None:
    slug = _write_service(tmp_path, "reader", "n.html", markup)
    with pytest.raises(RenderError, match="may not use"):
        NoticeRenderer(tmp_path).render(slug, "n.html", notice_context())


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ fields.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ (fields|attr('__class__')) }}",
        "{{ '{0.__class__}'.format(fields) }}",
        "{{ self._TemplateReference__context }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{% set x = fields.update({'a': 1}) %}",
    ],
)
def test_jinja_sandbox_refuses_escapes(tmp_path: Path, expression: str) -> None:
    slug = _write_service(tmp_path, "escape", "n.html", f"<p>{expression}</p>")
    with pytest.raises(RenderError):
        NoticeRenderer(tmp_path).render_html(slug, "n.html", notice_context())


def test_jinja_autoescapes_every_value(tmp_path: Path) -> None:
    slug = _write_service(tmp_path, "escape", "n.html", "<p>{{ reference }}</p>")
    context = notice_context()
    context["reference"] = '<img src=x onerror="alert(1)">'
    markup = NoticeRenderer(tmp_path).render_html(slug, "n.html", context)
    assert "<img src=x" not in markup
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in markup


def test_cel_sources_are_bounded_in_size() -> None:
    with pytest.raises(CelSyntaxError, match="at most"):
        compile_expression("1 + " * (MAX_SOURCE_LENGTH // 4 + 1) + "1")


def _nested(depth: int, elements: int) -> str:
    """``[0,…].all(a, [0,…].all(b, … a == b …))``: elements**depth steps to evaluate."""
    items = "[" + ",".join("0" * 1 for _ in range(elements)) + "]"
    names = [f"v{i}" for i in range(depth)]
    body = " && ".join(f"{name} == 0" for name in names)
    for name in reversed(names):
        body = f"{items}.all({name}, {body})"
    return body


def test_cel_comprehension_nesting_is_bounded() -> None:
    with pytest.raises(CelSyntaxError, match="nests 3 comprehensions"):
        compile_expression(_nested(MAX_COMPREHENSION_NESTING + 1, 10))
    # Macro names inside strings or as plain names do not count.
    compile_expression("'x.map(a, b.map(c, d.map(e, f)))' == fields.a")


def test_the_costliest_allowed_expression_evaluates_quickly() -> None:
    """The largest two-level comprehension that fits the size limit finishes in well under a
    second: what an integrator can write cannot stall a worker."""
    elements = 1
    while len(_nested(MAX_COMPREHENSION_NESTING, elements + 1)) <= MAX_SOURCE_LENGTH:
        elements += 1
    program = compile_expression(_nested(MAX_COMPREHENSION_NESTING, elements))
    started = time.monotonic()
    assert program.execute({}) is True
    assert time.monotonic() - started < 2.0
    assert elements**MAX_COMPREHENSION_NESTING > 100_000  # the bound is tested at its edge
