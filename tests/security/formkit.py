"""The HTML forms a browser can see: a crawler over the server-rendered pages and a form parser."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from tests.conftest import Platform
from tests.security.webkit import browser_login

_ID = re.compile(r"(?<=/)[0-9a-f]{32}(?=/|$)")
_SLUG = re.compile(r"(?<=/services/)[a-z0-9-]+(?=/)")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Field:
    """One named control: its kind (input type, select, textarea, button) and its choices."""

    name: str
    kind: str
    value: str = ""
    choices: list[str] = field(default_factory=list)
    checked: bool = False


@dataclass
class Form:
    """A form as the page that shows it defines it, with the page it was found on."""

    method: str
    action: str
    multipart: bool
    page: str
    fields: list[Field] = field(default_factory=list)

    @property
    def template(self) -> str:
        """The action with ids replaced, so one form on many cases counts once."""
        path = _SLUG.sub("{slug}", _ID.sub("{id}", urlsplit(self.action).path))
        return f"{self.method} {path}"

    def ids(self) -> set[str]:
        """The record ids in the action: which case or application posting it changes."""
        return set(_ID.findall(urlsplit(self.action).path))

    def valid_pairs(self, button: Field | None) -> list[tuple[str, str]]:
        """What a browser sends when the form is submitted unchanged with the given button."""
        pairs: list[tuple[str, str]] = []
        seen_radio: set[str] = set()
        for f in self.fields:
            if f.kind in ("submit", "button", "image", "file", "reset"):
                continue
            if f.kind == "radio":
                if f.name not in seen_radio:
                    seen_radio.add(f.name)
                    pairs.append((f.name, f.value))
            elif f.kind == "checkbox":
                if f.checked:
                    pairs.append((f.name, f.value or "on"))
            elif f.kind == "select":
                pairs.append((f.name, f.value or next((c for c in f.choices if c), "")))
            else:
                pairs.append((f.name, f.value))
        if button is not None:
            pairs.append((button.name, button.value))
        return pairs

    @property
    def buttons(self) -> list[Field]:
        return [f for f in self.fields if f.kind in ("submit", "image")]


class _FormParser(HTMLParser):
    """Forms, their controls (those tied to a form by its id included) and the page's links."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._by_id: dict[str, Form] = {}
        self._orphans: list[tuple[str, Field]] = []
        self._open: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._open = Form(
                method=(a.get("method") or "get").upper(),
                action=urljoin(self.page, a.get("action") or self.page),
                multipart="multipart" in a.get("enctype", ""),
                page=self.page,
            )
            self.forms.append(self._open)
            if a.get("id"):
                self._by_id[a["id"]] = self._open
        elif tag in ("input", "button", "select", "textarea") and a.get("name"):
            kind = tag if tag in ("select", "textarea") else a.get("type", "text").lower()
            if tag == "button" and kind == "text":
                kind = "submit"  # a <button> without type submits
            f = Field(a["name"], kind, a.get("value", ""), checked="checked" in a)
            owner = a.get("form")
            if owner:
                self._orphans.append((owner, f))
            elif self._open is not None:
                self._open.fields.append(f)
            if tag == "select":
                self._select = f
            elif tag == "textarea":
                self._textarea = f
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select.choices.append(value)
            if "selected" in a:
                self._select.value = value

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def close(self) -> None:
        super().close()
        for owner, f in self._orphans:
            if owner in self._by_id:
                self._by_id[owner].fields.append(f)


def parse(page: str, html: str) -> tuple[list[Form], list[str]]:
    """The forms and link targets of a page."""
    parser = _FormParser(page)
    parser.feed(html)
    parser.close()
    return parser.forms, parser.links


@dataclass
class Browser:
    """A logged-in (or anonymous) browser: its client, CSRF token and how to log in again."""

    platform: Platform
    persona: str | None
    client: httpx.Client
    csrf: str = ""

    @classmethod
    def open(cls, platform: Platform, persona: str | None) -> Browser:
        if persona is None:
            client = httpx.Client(base_url=platform.base_url, timeout=60, follow_redirects=False)
        else:
            client = browser_login(platform, persona)
        browser = cls(platform, persona, client)
        browser.refresh_csrf()
        return browser

    def refresh_csrf(self) -> None:
        if self.persona is None:
            return
        clerk = self.persona.startswith(("clerk-", "supervisor-"))
        page = self.client.get("/console/worklist" if clerk else "/cases")
        match = _CSRF.search(page.text)
        assert match, f"no CSRF token for {self.persona}: {page.status_code}"
        self.csrf = match.group(1)

    def relogin(self) -> None:
        """A fresh session after a form ended the old one (logout)."""
        self.client.close()
        if self.persona is not None:
            self.client = browser_login(self.platform, self.persona)
        self.refresh_csrf()

    def alive(self) -> bool:
        if self.persona is None:
            return True
        clerk = self.persona.startswith(("clerk-", "supervisor-"))
        return self.client.get("/console/worklist" if clerk else "/cases").status_code == 200


SKIP_LINKS = ("/logout", "/console/logout", "/login", "/console/login", "/sandbox/", "/lang/",
              "/auth/", "/api/", "/static/")  # fmt: skip
"""Links the crawler does not follow: they end the session, leave for the IdP or serve no page."""
NOT_PAGES = re.compile(r"/documents/|/files/|\.csv$|\.pdf$|/receipt$")
PER_TEMPLATE = 12
"""Pages visited per path template (each seeded draft of another service shows other forms)."""


def crawl(
    browser: Browser,
    starts: list[str],
    prefixes: tuple[str, ...],
    allowed: set[str],
    max_pages: int = 150,
) -> tuple[list[Form], int]:
    """Every form on the pages reachable by links from `starts` (within `prefixes`), following
    only links whose record ids are in `allowed`: other tests' cases stay untouched."""
    base = browser.platform.base_url
    queue = deque(starts)
    seen: set[str] = set()
    per_template: dict[str, int] = {}
    forms: list[Form] = []
    while queue and len(seen) < max_pages:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        r = browser.client.get(path)
        if r.is_redirect:
            target = urlsplit(urljoin(base + path, r.headers["location"]))
            if target.netloc == urlsplit(base).netloc:
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
            continue
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        found, links = parse(base + path, r.text)
        forms += found
        for href in links:
            target = urlsplit(urljoin(base + path, href))
            if target.netloc != urlsplit(base).netloc or target.path.startswith(SKIP_LINKS):
                continue
            if not target.path.startswith(prefixes) or NOT_PAGES.search(target.path):
                continue
            if not set(_ID.findall(target.path)) <= allowed:
                continue
            url = target.path + (f"?{target.query}" if target.query else "")
            key = _ID.sub("{id}", target.path)
            if url in seen or per_template.get(key, 0) >= PER_TEMPLATE:
                continue
            per_template[key] = per_template.get(key, 0) + 1
            queue.append(url)
    return forms, len(seen)


def distinct(forms: list[Form]) -> list[Form]:
    """One form per action template and field set, in the order they were found."""
    kept: dict[tuple[str, tuple[str, ...]], Form] = {}
    for form in forms:
        key = (form.template, tuple(sorted({f.name for f in form.fields if f.kind != "submit"})))
        kept.setdefault(key, form)
    return list(kept.values())
