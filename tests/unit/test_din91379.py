"""DIN 91379 checker (issue 20, item 6): each data type takes its groups and nothing else."""

from __future__ import annotations

import unicodedata

import pytest

from backend.definitions.answers import charset_problem, coerce
from backend.definitions.models import Field
from backend.domain.din91379 import DataType, Offender, all_units, first_offender, groups_of

A, B, C, D, E = DataType.A, DataType.B, DataType.C, DataType.D, DataType.E


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@pytest.mark.parametrize(
    ("sample", "group", "accepted_by"),
    [
        ("Łukasz Ñúñez-Øster", "bll", (A, B, C, D, E)),  # Latin letters and N1
        ("Dž", "bll", (A, B, C, D, E)),
        ("ẞ", "bll", (A, B, C, D, E)),
        ("L\u0325\u0304", "bll", (A, B, C, D, E)),  # letter + two combining marks, one unit
        ("K\u035fH", "bll", (A, B, C, D, E)),  # a sequence that ends in a letter
        ("O’Neill", "bnlreq", (A, B, C, D, E)),
        ("Hauptstr. 12a / §3 €", "bnl", (B, C, E)),
        ("½", "bnlopt", (C, E)),
        ("erste Zeile\nzweite Zeile", "bnlnot", (C, E)),
        ("Σωκράτης", "gl", (D, E)),
        ("Дмитрий", "cl", (E,)),
        ("„Zitat“ …", "enl", (E,)),
    ],
)
def test_a_sample_of_each_group_is_accepted_exactly_by_the_types_that_contain_it(
    sample: str, group: str, accepted_by: tuple[DataType, ...]
) -> None:
    text = _nfc(sample)
    for data_type in DataType:
        found = first_offender(text, data_type)
        assert (found is None) == (data_type in accepted_by), (sample, data_type, found)


def test_the_dog_emoji_is_refused_in_every_type_with_its_code_point_and_position() -> None:
    for data_type in DataType:
        found = first_offender("Bello 🐶", data_type)
        assert found == Offender(position=7, code_point=0x1F436)
        assert found.label == "U+1F436" and found.name == "DOG FACE"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Ǆemal", "U+01C4"),  # the DŽ digraph character is not listed: D + ž is
        ("Kurt™", "U+2122"),  # E1 only
        ("q\u0303x", "U+0303"),  # q + tilde: no listed sequence and no NFC form
        ("C\u0325", "U+0325"),  # a listed mark, but C + ring below is no listed sequence
        ("Ωmega", "U+03A9"),  # Greek in a name of type A
        ("Zeile\u2028", "U+2028"),
        ("x\u200by", "U+200B"),
    ],
)
def test_symbols_and_unlisted_combinations_are_refused_at_the_right_character(
    text: str, label: str
) -> None:
    found = first_offender(_nfc(text), A)
    assert found is not None and found.label == label


def test_sequences_match_greedily_and_a_stray_mark_is_reported_at_its_own_position() -> None:
    assert groups_of("L\u0325\u0304") == "bll" and groups_of("L\u0325") == "bll"
    assert first_offender("aL\u0325\u0304b", A) is None
    assert first_offender("ab\u0331", A) == Offender(3, 0x0331)  # b + macron below is unlisted


def test_the_list_is_complete_enough_to_hold_every_register_letter_and_nothing_astral() -> None:
    units = all_units(E)
    assert len(units) == len(set(units)) and all(ord(u[0]) < 0x10000 for u in units)
    assert {"ä", "ö", "ü", "ß", "Ä", "Ö", "Ü", "ẞ", "€", "§"} <= set(units)
    assert len(all_units(A)) < len(all_units(B)) < len(all_units(C)) < len(all_units(E))


def _field(**extra: object) -> Field:
    return Field.model_validate(
        {"id": "name", "type": "string", "label": {"de": "Name", "en": "Name"}, "required": True}
        | extra
    )


def test_a_field_defaults_to_b_for_strings_and_c_for_text_and_a_declared_type_wins() -> None:
    assert _field().text_charset == "din91379-b"
    assert _field(type="text").text_charset == "din91379-c"
    assert _field(charset="din91379-a").text_charset == "din91379-a"
    assert _field(type="date").text_charset is None
    with pytest.raises(ValueError, match="charset is only allowed"):
        _field(type="date", charset="din91379-a")


def test_coerce_refuses_an_emoji_naming_field_code_point_and_name_in_both_languages() -> None:
    value, problem = coerce(_field(charset="din91379-a"), "Bello 🐶")
    assert value is None and problem is not None
    assert problem.de == (
        "Name: Das Zeichen U+1F436 (DOG FACE) an Stelle 7 ist in Namen von Personen "
        "nicht zulässig (DIN 91379)."
    )
    assert problem.en == (
        "Name: the character U+1F436 (DOG FACE) at position 7 is not allowed in names of "
        "persons (DIN 91379)."
    )
    assert charset_problem(_field(type="text"), "Zeile 1\nZeile 2: ½ € (§ 3)") is None
    # DIN 91379 has no dash but the hyphen-minus, so the en dash a phone may type is named.
    dash = charset_problem(_field(type="text"), "1 – 2")
    assert dash is not None and "U+2013 (EN DASH) an Stelle 3" in dash.de
