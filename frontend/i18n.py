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
    """Message ids are the German texts; other languages come from their .po files.

    Every ``*.po`` in the language's folder is read (``messages.po`` for the portal,
    ``console.po`` for the supervision console, ...), so each area keeps its own catalogue
    file; the first file that translates an id wins, in file-name order.
    """
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    files = sorted(folder.glob("*.po")) if folder.is_dir() else []
    if lang == DEFAULT_LANGUAGE or not files:
        return gettext.NullTranslations()
    merged = gettext.NullTranslations()
    for po in files:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        part = gettext.GNUTranslations(buf)
        if isinstance(merged, gettext.GNUTranslations):
            merged.add_fallback(part)
        else:
            merged = part
    return merged


def pick_language(cookie: str | None) -> str:
    """German unless the citizen chose otherwise on the page.

    Accept-Language is deliberately ignored: a German authority's portal speaks German by
    default, and shared or borrowed devices often send another language than their user reads.
    """
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE
