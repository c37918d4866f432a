"""Server-side rendering of portal pages: one Jinja environment, locale-aware formatting."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from backend.auth.sessions import safe_login_return
from backend.cases.views import display_value
from frontend.i18n import LANGUAGES, pick_language, translations

TEMPLATES = Path(__file__).parent / "templates"
BERLIN = ZoneInfo("Europe/Berlin")
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


def localized_message(message: str, lang: str) -> str:
    """Backend errors read "Deutsch. (English.)": show the part in the page's language."""
    match = re.fullmatch(r"(?s)(.*\S)\s+\(([\x20-\x7e]+)\)", message)
    if match is None or "§" in match.group(2):
        return message
    return match.group(2) if lang == "en" else match.group(1)


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
            fmt_date=lambda v: fmt_date(v, lang),
            fmt_datetime=lambda v: fmt_datetime(v, lang),
            fmt_money=lambda v: fmt_money(v, lang),
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
            csrf_token=active.csrf_token if active else "",
            unread=getattr(request.state, "unread", 0),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
