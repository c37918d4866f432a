"""The applicant search index: keyed hashes of a case's name words and birth date.

Names are encrypted at rest (backend.crypto), so the database cannot compare them. Each case
keeps HMAC-SHA256 digests (key derived from the primary encryption key) of the normalised words
of its applicant's name and of the birth date; the console's search (backend.console.search)
hashes what a clerk typed the same way and matches whole words. Nobody holding only the database
can test a name without the key. `knopfdruck security rotate-keys` rebuilds the index.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.crypto import derived_key
from backend.db import unit_of_work
from backend.records.models import Case, CaseSearchTerm

NAME_FIELDS = ("familienname", "vornamen", "geburtsname", "name", "vorname", "nachname")
BIRTH_FIELDS = ("geburtsdatum",)
_DATE_DE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FOLD = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "ß": "ss",
        "ẞ": "ss",
        "æ": "ae",
        "ø": "oe",
        "đ": "d",
        "ł": "l",
    }
)


def normalise(word: str) -> str:
    """Spell a name as a clerk hears it: case and accents do not matter, umlauts and ß fold as
    in DIN 5007-2 (Müller = MUELLER = mueller, Strauß = Strauss, José = jose)."""
    folded = unicodedata.normalize("NFKD", word.casefold().translate(_FOLD))
    return "".join(c for c in folded if c.isalnum())


def name_words(text: str) -> list[str]:
    return [w for w in (normalise(p) for p in re.split(r"[\s,;/()-]+", text)) if len(w) >= 2]


def digest(kind: str, value: str) -> str:
    return hmac.new(
        derived_key("search-index"), f"{kind}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def birth_date(text: str) -> str | None:
    """A date of birth as typed (01.02.1980, 1.2.1980, 1980-02-01) in ISO form, or None."""
    text = text.strip()
    found = _DATE_DE.match(text)
    try:
        if found:
            return date(int(found[3]), int(found[2]), int(found[1])).isoformat()
        found = _DATE_ISO.match(text)
        if found:
            return date(int(found[1]), int(found[2]), int(found[3])).isoformat()
    except ValueError:
        return None
    return None


def case_terms(case: Case) -> set[str]:
    """The digests a case is found by: its addressee's and named fields' words, birth date."""
    data = case.data or {}
    values = data.get("values") or {}
    names = [str((data.get("addressee") or {}).get("name") or "")]
    names += [str(values[f]) for f in NAME_FIELDS if values.get(f)]
    terms = {digest("name", w) for n in names for w in name_words(n)}
    for field in BIRTH_FIELDS:
        born = birth_date(str(values.get(field) or ""))
        if born:
            terms.add(digest("born", born))
    return terms


def index_case(session: Session, case: Case) -> None:
    """Write (or rewrite) the case's search terms in the caller's transaction."""
    session.exec(delete(CaseSearchTerm).where(col(CaseSearchTerm.case_id) == case.id))
    for digest in sorted(case_terms(case)):
        session.add(CaseSearchTerm(case_id=case.id, department=case.department, digest=digest))


def reindex_all(engine: Engine, *, batch: int = 200) -> int:
    """Rebuild every case's terms (after a key rotation or for cases from before the index)."""
    done, after = 0, ""
    while True:
        with unit_of_work(engine) as session:
            cases = session.exec(
                select(Case).where(col(Case.id) > after).order_by(col(Case.id)).limit(batch)
            ).all()
            for case in cases:
                index_case(session, case)
        if not cases:
            return done
        done += len(cases)
        after = cases[-1].id
