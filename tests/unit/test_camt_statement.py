"""camt.053 statements are validated against the official XSD and read with a parser that
loads no DTD and expands no entity; only booked credits count."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.payments.camt import StatementRefused, _candidates, read_statement
from tests.camt_kit import Transfer, statement


@pytest.mark.parametrize("version", ["02", "08"])
def test_booked_credits_are_read_from_both_versions(version: str) -> None:
    found, credits = read_statement(
        statement(
            [
                Transfer("36.50", "Kassenzeichen 6620 2026ABCD EFGH", "R1"),
                Transfer("12.00", "Lastschrift", "R2", credit=False),
            ],
            version=version,
        )
    )
    assert found == f"camt.053.001.{version}"
    (credit,) = credits
    assert (credit.amount, credit.currency, credit.booked_on) == (
        Decimal("36.50"),
        "EUR",
        "2026-12-04",
    )
    assert credit.remittance == "Kassenzeichen 6620 2026ABCD EFGH"
    # The same entry gives the same key: a statement imported twice is recognised.
    again = read_statement(statement([Transfer("36.50", "x", "R1")], version=version))[1]
    assert again[0].entry_key == credit.entry_key


def test_a_statement_that_breaks_the_schema_is_refused() -> None:
    broken = statement([Transfer("30.00", "KZ", "R1")]).replace(
        b"<CdtDbtInd>CRDT</CdtDbtInd>\n<Sts>", b"<CdtDbtInd>CREDIT</CdtDbtInd>\n<Sts>"
    )
    with pytest.raises(StatementRefused, match="Schema"):
        read_statement(broken)
    with pytest.raises(StatementRefused, match=r"camt\.053"):
        read_statement(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>')
    with pytest.raises(StatementRefused, match="XML"):
        read_statement(b"<Document><unclosed></Document>")


def test_dtds_and_entities_are_never_loaded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&b;</Document>'
    )
    with pytest.raises(StatementRefused, match="DOCTYPE"):
        read_statement(bomb)
    external = b'<!DOCTYPE d SYSTEM "file:///etc/passwd"><Document/>'
    with pytest.raises(StatementRefused, match="DOCTYPE"):
        read_statement(external)


def test_the_kassenzeichen_is_found_however_the_bank_spaced_it() -> None:
    for text in (
        "KZ 6620-2026-ABCD-EFGH Parkausweis",
        "6620 2026ABCD EFGH",
        "66202026abcdefgh",
        "SVWZ+KD-2026-ABCD-EFGH",
    ):
        assert "KD-2026-ABCD-EFGH" in _candidates(text), text
    assert _candidates("Miete Dezember 2026") == []
