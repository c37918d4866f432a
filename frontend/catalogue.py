"""Finding a service: search in the words citizens use, and grouping by life situation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from backend.cases.catalogue_views import ServiceView
from frontend.rendering import N_

TRUST_LEVELS: dict[str, tuple[str, str]] = {
    "niedrig": (N_("niedrig"), N_("Benutzername und Passwort")),
    "substanziell": (N_("substanziell"), N_("zum Beispiel ELSTER-Zertifikat oder Online-Ausweis")),
    "hoch": (N_("hoch"), N_("Online-Ausweis (Personalausweis, eID-Karte oder Aufenthaltstitel)")),
}
"""Vertrauensniveaus as citizens recognise them: by the way they log in (BSI TR-03107-1)."""

LIFE_SITUATIONS: tuple[tuple[str, str], ...] = (
    ("umzug-wohnen", N_("Umzug und Wohnen")),
    ("familie-kinder", N_("Familie und Kinder")),
    ("auto-verkehr", N_("Auto und Verkehr")),
    ("tiere", N_("Tiere")),
    ("ausweise-bescheinigungen", N_("Ausweise und Bescheinigungen")),
    ("arbeit-gewerbe", N_("Arbeit und Gewerbe")),
    ("studium-bildung", N_("Studium und Bildung")),
    ("geld-leistungen", N_("Geld und Leistungen")),
)
"""Order and German names of the life situations (Lebenslagen) on the start page."""
OTHER = ("weitere", N_("Weitere Dienste"))

_FOLDS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
# Common German and English inflection endings: "Hunde", "Parkausweise", "dogs" find the
# singular written in a definition. Only stripped from words long enough to stay distinctive.
_ENDINGS = ("en", "er", "es", "e", "n", "s")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower case, umlauts as digraphs, no accents: 'Führerschein' and 'fuehrerschein' match."""
    return _strip_accents(text.casefold().translate(_FOLDS))


def _variants(text: str) -> str:
    """Both spellings of umlauts, so 'Räder' (raeder, rader) finds 'Rad'."""
    lowered = text.casefold()
    return f"{fold(lowered)} {_strip_accents(lowered).replace('ß', 'ss')}"


def _stems(word: str) -> list[str]:
    """The word in every spelling (Räder, raeder, rader) and without inflection endings."""
    spellings = _variants(word).split()
    # Typed digraphs ("raeder") may stand for an umlaut whose plain form the text has.
    spellings.append(fold(word).replace("ae", "a").replace("oe", "o").replace("ue", "u"))
    stems: list[str] = []
    for spelling in dict.fromkeys(spellings):
        stems.append(spelling)
        for ending in _ENDINGS:
            if spelling.endswith(ending) and len(spelling) - len(ending) >= 4:
                stems.append(spelling[: -len(ending)])
    return stems


@dataclass(frozen=True)
class _Haystack:
    title: str
    keywords: str
    description: str


def _haystack(service: ServiceView) -> _Haystack:
    situations = " ".join(label for sid, label in LIFE_SITUATIONS if sid in service.life_situations)
    return _Haystack(
        title=_variants(f"{service.title.de} {service.title.en}"),
        keywords=_variants(
            " ".join(service.keywords.get("de", []) + service.keywords.get("en", []))
        ),
        description=_variants(f"{service.description.de} {service.description.en} {situations}"),
    )


def search(services: Sequence[ServiceView], query: str) -> list[ServiceView]:
    """Services matching every word of the query, best matches first.

    A word matches where it occurs inside a title, keyword or description in either language,
    so compounds work ("ausweis" finds "Parkausweis"). Titles weigh most, then keywords.
    """
    words = [w for w in re.split(r"[^\w]+", query.casefold()) if len(w) >= 2]
    if not words:
        return []
    scored: list[tuple[int, str, ServiceView]] = []
    for service in services:
        hay = _haystack(service)
        score = 0
        for word in words:
            stems = _stems(word)
            if any(s in hay.title for s in stems):
                score += 3
            elif any(s in hay.keywords for s in stems):
                score += 2
            elif any(s in hay.description for s in stems):
                score += 1
            else:
                score = 0
                break
        if score:
            scored.append((-score, fold(service.title.de), service))
    return [service for _score, _title, service in sorted(scored, key=lambda x: x[:2])]


def by_life_situation(services: Sequence[ServiceView]) -> list[tuple[str, str, list[ServiceView]]]:
    """(id, German name, services) per life situation that has any; the rest come last."""
    groups: list[tuple[str, str, list[ServiceView]]] = []
    for sid, label in LIFE_SITUATIONS:
        members = [s for s in services if sid in s.life_situations]
        if members:
            groups.append((sid, label, members))
    rest = [s for s in services if not s.life_situations]
    if rest:
        groups.append((OTHER[0], OTHER[1], rest))
    return groups
