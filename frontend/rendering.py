"""Server-side rendering of portal pages: one Jinja environment, locale-aware formatting."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyphen
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from backend.definitions.constraints import GERMAN_ZONE
from backend.definitions.display import display_value
from backend.login.sessions import safe_login_return
from frontend.i18n import LANGUAGES, pick_language, translations

TEMPLATES = Path(__file__).parent / "templates"
BERLIN = GERMAN_ZONE
LANG_COOKIE = "kd_lang"
LOCALES = {"de": "de_DE", "en": "en_GB"}


def N_(message: str) -> str:
    """Marks a string for the catalogue where it is defined; it is translated when shown."""
    return message


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Templates compile once per process, on first use."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )


def language(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE))


def fmt_date(value: Any, lang: str) -> str:
    """Dates as each language writes them: 21.11.2026 and 21 November 2026."""
    if isinstance(value, str):
        text = value
        try:
            value = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        return str(
            format_date(
                value.astimezone(BERLIN).date() if value.tzinfo else value.date(),
                "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy",
                locale=LOCALES[lang],
            )
        )
    if isinstance(value, date):
        return str(
            format_date(
                value, "dd.MM.yyyy" if lang == "de" else "d MMMM yyyy", locale=LOCALES[lang]
            )
        )
    return "" if value is None else str(value)


def fmt_datetime(value: datetime, lang: str) -> str:
    """Date and time in German time, as the citizen's clock shows it."""
    pattern = "dd.MM.yyyy, HH:mm 'Uhr'" if lang == "de" else "d MMMM yyyy, HH:mm"
    return str(format_datetime(value, pattern, tzinfo=BERLIN, locale=LOCALES[lang]))


def fmt_time(value: datetime, lang: str) -> str:
    """A time of day in German time: 14:32 Uhr, 14:32."""
    pattern = "HH:mm 'Uhr'" if lang == "de" else "HH:mm"
    return str(format_datetime(value, pattern, tzinfo=BERLIN, locale=LOCALES[lang]))


def fmt_money(value: Any, lang: str) -> str:
    """Amounts as each language writes them: 36,00 € and €36.00."""
    return str(format_currency(Decimal(str(value)), "EUR", locale=LOCALES[lang]))


def fmt_size(size: int, lang: str) -> str:
    """File sizes in whole KB, or MB with one decimal."""
    if size >= 1024 * 1024:
        return f"{format_decimal(round(size / (1024 * 1024), 1), locale=LOCALES[lang])} MB"
    return f"{max(1, round(size / 1024))} KB"


def amount_input(value: Any, lang: str) -> str:
    """A stored amount (3499.00) as the citizen types it (3499,00); typed text stays as typed."""
    if value is None:
        return ""
    text = str(value)
    if lang == "de" and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return text.replace(".", ",")
    return text


_BILINGUAL = re.compile(r"(?s)(.*\S)\s+\(([\x20-\x7e]+)\)")


def is_bilingual(message: str) -> bool:
    """Whether a message carries both languages; a one-language one (e.g. a library's English)
    is not shown to citizens, whose page then says the same in their language (issue 21)."""
    match = _BILINGUAL.fullmatch(message)
    return match is not None and "§" not in match.group(2)


def localized_message(message: str, lang: str) -> str:
    """Backend errors read "Deutsch. (English.)": show the part in the page's language."""
    match = _BILINGUAL.fullmatch(message)
    if match is None or "§" in match.group(2):
        return message
    return match.group(2) if lang == "en" else match.group(1)


@lru_cache(maxsize=2)
def _hyphenator(lang: str) -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="de_DE" if lang == "de" else "en_GB")


_LONG_WORD = re.compile(r"[^\W\d_]{12,}")


def hyphenate(text: str, lang: str) -> str:
    """Soft hyphens in long words, so "Anwohnerparkausweis" breaks at a syllable on a phone.

    CSS `hyphens: auto` does this where the browser has a dictionary for the page's language;
    Chromium on Linux and some WebViews have none and break mid-syllable ("Anwohnerparkauswe|is").
    Accessible names and Playwright's text matching ignore U+00AD (issue 21, item 6).
    """
    hyphenator = _hyphenator(lang)

    def soft(match: re.Match[str]) -> str:
        word = match.group(0)
        found = hyphenator.positions(word)
        # The patterns split compounds badly around one-letter pieces ("Par-k-aus-weis"):
        # drop such pairs, and keep three letters on either side of every break.
        close = [(p, q) for p, q in itertools.pairwise(found) if q - p < 2]
        odd = {p for pair in close for p in pair}
        cuts = [p for p in found if p not in odd and 3 <= p <= len(word) - 3]
        pieces = [word[a:b] for a, b in itertools.pairwise([0, *cuts, len(word)])]
        return "\u00ad".join(pieces)

    return _LONG_WORD.sub(soft, text)


def _localized(text: Any, lang: str) -> str:
    if text is None:
        return ""
    if isinstance(text, dict):
        return str(text.get(lang) or text.get("de") or "")
    return str(getattr(text, lang, "") or getattr(text, "de", ""))


def _sandbox_on(request: Request) -> bool:
    """Every page says so when test identities can log in (issue 14, item 7)."""
    app = request.scope.get("app")
    ctx = getattr(getattr(app, "state", None), "ctx", None)
    return bool(getattr(getattr(ctx, "settings", None), "sandbox", False))


@dataclass(frozen=True)
class _SessionTiming:
    session_idle_minutes: int = 30
    session_warning_seconds: int = 120


def _settings_of(request: Request) -> Any:
    """The app's settings for the session texts; their defaults where a page has no app."""
    app = request.scope.get("app")
    ctx = getattr(getattr(app, "state", None), "ctx", None)
    return getattr(ctx, "settings", None) or _SessionTiming()


def _seconds_left(expires_at: datetime | None) -> int | None:
    """Seconds until an idle session ends, relative, so the browser's clock does not matter."""
    if expires_at is None:
        return None
    return max(0, int((expires_at - datetime.now(UTC)).total_seconds()))


def _place(request: Request, tenant_id: str | None) -> Any:
    """The tenant a draft or case belongs to, for its name and logo above the page; the home
    tenant's pages show none (they look as before tenancy)."""
    if tenant_id is None:
        return None
    ctx = getattr(request.app.state, "ctx", None)
    return ctx.tenancy.tenants.get(tenant_id) if ctx is not None else None


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """One page in the citizen's language, never cached: pages may show personal data."""
    lang = language(request)
    trans = translations(lang)
    active = getattr(request.state, "portal_session", None)
    here = request.url.path
    if request.method == "GET" and request.url.query:
        here += "?" + request.url.query
    html = (
        environment()
        .get_template(template)
        .render(
            _=trans.gettext,
            gettext=trans.gettext,
            ngettext=trans.ngettext,
            lang=lang,
            other_lang=next(code for code in LANGUAGES if code != lang),
            t=lambda text: _localized(text, lang),
            hy=lambda text: hyphenate(str(text), lang),
            # Register names are German proper names; the catalogues give their English names.
            registers=lambda names: ", ".join(trans.gettext(n) for n in names),
            fmt_date=lambda v: fmt_date(v, lang),
            fmt_datetime=lambda v: fmt_datetime(v, lang),
            fmt_money=lambda v: fmt_money(v, lang),
            fmt_time=lambda v: fmt_time(v, lang),
            fmt_size=lambda v: fmt_size(v, lang),
            fmt_value=lambda field, v: display_value(field, v, lang),
            amount_input=lambda v: amount_input(v, lang),
            msg=lambda m: localized_message(m, lang),
            path=request.url.path,
            here=here,
            login_next=safe_login_return(here),
            sandbox_on=_sandbox_on(request),
            quote=quote,
            user=active.identity if active else None,
            # WCAG 2.2.1: the page says when an idle session ends and warns before (portal.js).
            session_expires_at=getattr(active, "expires_at", None),
            session_seconds_left=_seconds_left(getattr(active, "expires_at", None)),
            session_idle_minutes=_settings_of(request).session_idle_minutes,
            session_warning_seconds=_settings_of(request).session_warning_seconds,
            csrf_token=active.csrf_token if active else "",
            unread=getattr(request.state, "unread", 0),
            # The authority whose pages these are (frontend/pages_places.py) and their prefix.
            **{"place": _place(request, context.pop("place_id", None)), "base": "", **context},
        )
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
