"""Identification at the counter without I/O: how typed names and dates are read and compared
with what the Melderegister holds (backend/console/counter_identity.py)."""

from __future__ import annotations

from datetime import date

import pytest

from backend.columns import utcnow
from backend.console.counter_identity import (
    IdentifiedPerson,
    WalkIn,
    _register_mismatches,
    name_tokens,
    parse_birthdate,
)
from backend.definitions.constraints import local_today
from backend.errors import InvalidInput

JONAS_IDNR = "47036892816"


def _walk_in(**changes: str) -> WalkIn:
    typed = {
        "idnr": JONAS_IDNR,
        "family_name": "Schneider",
        "given_names": "Jonas",
        "birthdate": "05.03.1991",
    }
    typed.update(changes)
    return WalkIn.parse(**typed)


def test_names_compare_without_case_umlaut_or_hyphen_differences() -> None:
    assert name_tokens("Müller-Lüdenscheidt") == name_tokens("MUELLER luedenscheidt")
    assert name_tokens("Strauß") == name_tokens("strauss")
    assert name_tokens("  José  ") == name_tokens("jose")
    assert name_tokens("Schneider") != name_tokens("Mustermann")


def test_birthdates_in_german_or_iso_form() -> None:
    assert parse_birthdate("5.3.1991") == date(1991, 3, 5)
    assert parse_birthdate("05.03.1991") == date(1991, 3, 5)
    assert parse_birthdate("1991-03-05") == date(1991, 3, 5)
    assert parse_birthdate("31.02.1991") is None
    assert parse_birthdate("März 1991") is None


def test_every_problem_in_the_form_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as refused:
        WalkIn.parse(
            idnr="47036892817",
            family_name=" ",
            given_names="",
            birthdate="morgen",
            document_number="12",
            portal_sub="bad account id!",
        )
    fields = [d["field"] for d in refused.value.details]
    assert fields == [
        "idnr",
        "family_name",
        "given_names",
        "birthdate",
        "document_kind",
        "document_number",
        "document_authority",
        "portal_sub",
    ]
    assert all(d["message_de"] and d["message"] for d in refused.value.details)


def test_a_birthdate_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidInput):
        _walk_in(birthdate=f"01.01.{local_today().year + 1}")


def test_the_document_shown_is_kept_normalised() -> None:
    walk_in = _walk_in(
        document_kind="personalausweis",
        document_number="l01x 00t47",
        document_authority="  Stadt   Köln ",
    )
    assert walk_in.document is not None
    assert (walk_in.document.number, walk_in.document.authority) == ("L01X00T47", "Stadt Köln")


def test_register_match_names_only_what_differs() -> None:
    held = {"familienname": "Schneider", "vornamen": "Jonas Peter", "geburtsdatum": "1991-03-05"}
    assert _register_mismatches(_walk_in(), held) == []
    # The clerk may type only the given name in everyday use, but none the register lacks.
    assert _register_mismatches(_walk_in(given_names="Peter Jonas"), held) == []
    assert _register_mismatches(_walk_in(given_names="Jonas Paul"), held) == ["given_names"]
    assert _register_mismatches(_walk_in(birthdate="06.03.1991"), held) == ["birthdate"]
    erika = _walk_in(family_name="Mustermann", given_names="Erika", birthdate="12.08.1964")
    assert _register_mismatches(erika, held) == ["family_name", "given_names", "birthdate"]
    # A register that answered without the items is no match either.
    assert _register_mismatches(_walk_in(), {}) == ["family_name", "given_names", "birthdate"]


def test_trust_level_follows_the_evidence() -> None:
    by_register = IdentifiedPerson(_walk_in(), "melderegister", utcnow(), None)
    assert by_register.trust_level == "substanziell"
    with_card = _walk_in(
        document_kind="reisepass", document_number="C01X00T47", document_authority="Stadt Köln"
    )
    by_card = IdentifiedPerson(with_card, "melderegister_ausweis", utcnow(), None)
    assert by_card.trust_level == "hoch"
    # Without a linked account the case belongs to the person's counter pseudonym.
    assert by_card.identity().sub == by_card.data_subject != JONAS_IDNR
    assert JONAS_IDNR not in by_card.data_subject
