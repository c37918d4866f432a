"""DIN 91379 at intake: what German registers and XÖV messages can hold, so that nothing a
citizen types is lost on the way to a register or prints as a missing glyph (issue 20, item 6).

Pure: the character list is read once from the data file next to this module (see README.md
for its source and licence). Text is checked in NFC; the HTTP edge normalises before.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

DATA_FILE = "latin_list_1.3.codepoints.txt"


class DataType(StrEnum):
    """The data types of DIN 91379: which groups of characters a kind of value may use."""

    A = "a"  # names of natural persons
    B = "b"  # names of legal persons, organisations, products; addresses
    C = "c"  # other text
    D = "d"  # as A, plus Greek letters: person names in European data exchange
    E = "e"  # everything the list holds


GROUPS: dict[DataType, frozenset[str]] = {
    DataType.A: frozenset({"bll", "bnlreq"}),
    DataType.B: frozenset({"bll", "bnlreq", "bnl"}),
    DataType.C: frozenset({"bll", "bnlreq", "bnl", "bnlopt", "bnlnot"}),
    DataType.D: frozenset({"bll", "bnlreq", "gl"}),
    DataType.E: frozenset({"bll", "bnlreq", "bnl", "bnlopt", "bnlnot", "gl", "cl", "enl"}),
}
"""Combining diacritics (group dc) belong to no type on their own: DIN 91379 allows them only
inside the listed letter sequences, which are group bll."""


@dataclass(frozen=True)
class Offender:
    """The first character a data type does not contain: where it is and what it is."""

    position: int  # 1-based, in code points of the NFC text
    code_point: int

    @property
    def label(self) -> str:
        """'U+1F436' – how the standard and a clerk name a character."""
        return f"U+{self.code_point:04X}"

    @property
    def name(self) -> str:
        """The Unicode name, or the label for a character that has none (controls)."""
        return unicodedata.name(chr(self.code_point), self.label)


@dataclass(frozen=True)
class _Table:
    """Every listed unit (one character or one sequence) with its group."""

    units: dict[str, str]
    longest: int


def _parse(text: str) -> _Table:
    units: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        group, spec = (part.strip() for part in line.split(";", 1))
        if ".." in spec:
            first, last = (int(part, 16) for part in spec.split(".."))
            for cp in range(first, last + 1):
                units[chr(cp)] = group
        else:
            units["".join(chr(int(part, 16)) for part in spec.split())] = group
    return _Table(units, max(len(unit) for unit in units))


@cache
def _table() -> _Table:
    return _parse(resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8"))


def groups_of(unit: str) -> str | None:
    """The group of a listed character or sequence, or None if DIN 91379 does not list it."""
    return _table().units.get(unit)


def all_units(data_type: DataType = DataType.E) -> list[str]:
    """Every character and sequence a data type contains, in list order (for font checks)."""
    allowed = GROUPS[data_type]
    return [unit for unit, group in _table().units.items() if group in allowed]


def first_offender(text: str, data_type: DataType) -> Offender | None:
    """The first character of NFC `text` outside `data_type`, or None if all of it is inside.

    Sequences are matched greedily, longest first, so "L̥̄" is one unit and a combining mark
    outside a listed sequence is reported at its own position."""
    table = _table()
    allowed = GROUPS[data_type]
    i = 0
    while i < len(text):
        for size in range(min(table.longest, len(text) - i), 0, -1):
            if table.units.get(text[i : i + size]) in allowed:
                i += size
                break
        else:
            return Offender(i + 1, ord(text[i]))
    return None
