"""German by default, English switchable: gettext catalogues read with Babel at start-up."""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"


@lru_cache(maxsize=4)
def translations(lang: str) -> gettext.NullTranslations:
    """Message ids are the German texts; other languages come from their .po file."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT_LANGUAGE or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def pick_language(cookie: str | None) -> str:
    """German unless the citizen chose otherwise on the page.

    Accept-Language is deliberately ignored: a German authority's portal speaks German by
    default, and shared or borrowed devices often send another language than their user reads.
    """
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE
