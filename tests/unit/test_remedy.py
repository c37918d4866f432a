"""The remedy against a decision follows from the procedural regime, in German and English."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from backend.definitions.models import Procedure
from backend.domain.remedy import remedy_for

STADT = {
    "name": "Stadt Köln – Elterngeldstelle",
    "at": "bei der Stadt Köln, Elterngeldstelle",
    "address": "Ottmar-Pohl-Platz 1, 51103 Köln",
}
VG = {
    "name": "Verwaltungsgericht Köln",
    "at": "beim Verwaltungsgericht Köln",
    "address": "Appellhofplatz, 50667 Köln",
}
FAMILIENKASSE = {
    "name": "Familienkasse Nordrhein-Westfalen West",
    "at": "bei der Familienkasse Nordrhein-Westfalen West",
    "address": "52058 Aachen",
}


def _procedure(**data: Any) -> Procedure:
    return Procedure.model_validate(data)


def _de(procedure: Procedure) -> str:
    return " ".join(remedy_for(procedure).text("de"))


def _en(procedure: Procedure) -> str:
    return " ".join(remedy_for(procedure).text("en"))


def test_vwgo_vorverfahren_is_a_widerspruch_at_the_authority_and_the_portal_takes_it() -> None:
    other = {"name": "Bezirksregierung Köln", "at": "bei der Bezirksregierung Köln",
             "address": "Zeughausstraße 2–10, 50667 Köln"}  # fmt: skip
    procedure = _procedure(regime="vwgo_vorverfahren", authority=STADT, objection_authority=other)
    remedy = remedy_for(procedure)
    assert (remedy.kind, remedy.legal_basis, remedy.in_portal) == (
        "widerspruch", "§§ 68, 70 VwGO", True,
    )  # fmt: skip
    assert remedy.lodge_with is not None and remedy.lodge_with.name == STADT["name"]
    de = _de(procedure)
    assert (
        "innerhalb eines Monats nach Bekanntgabe Widerspruch erhoben werden (§§ 68, 70 VwGO)" in de
    )
    assert "schriftlich, in elektronischer Form (§ 3a Abs. 2 VwVfG) oder zur Niederschrift" in de
    assert "bei der Stadt Köln, Elterngeldstelle, Ottmar-Pohl-Platz 1, 51103 Köln" in de
    # § 70 Abs. 1 Satz 2 VwGO: the Widerspruchsbehörde keeps the period too.
    assert "bei der Bezirksregierung Köln, Zeughausstraße 2–10, 50667 Köln" in de
    en = _en(procedure)
    assert "objection (Widerspruch)" in en and "within one month of notification" in en
    assert "with Stadt Köln – Elterngeldstelle, Ottmar-Pohl-Platz 1, 51103 Köln" in en
    assert remedy.name("de") == "Widerspruch" and remedy.period_name_de == "Widerspruchsfrist"


def test_vwgo_klage_goes_to_the_court_and_not_through_the_portal() -> None:
    procedure = _procedure(regime="vwgo_klage", legal_basis="§ 110 Abs. 1 JustG NRW", court=VG)
    remedy = remedy_for(procedure)
    assert (remedy.kind, remedy.in_portal) == ("klage", False)
    assert remedy.lodge_with is not None and remedy.lodge_with.name == "Verwaltungsgericht Köln"
    de = _de(procedure)
    assert (
        "innerhalb eines Monats nach Bekanntgabe Klage beim Verwaltungsgericht Köln, "
        "Appellhofplatz, 50667 Köln, erhoben werden (§ 74 Abs. 1 Satz 2 VwGO)"
    ) in de
    assert "Ein Widerspruchsverfahren findet nicht statt (§ 110 Abs. 1 JustG NRW)." in de
    assert "zur Niederschrift des Urkundsbeamten der Geschäftsstelle" in de
    assert "§ 55a VwGO" in de and "Widerspruch erhoben" not in de
    en = _en(procedure)
    assert "action (Klage)" in en and "before Verwaltungsgericht Köln, Appellhofplatz" in en
    assert "registry clerk" in en and "§ 55a VwGO" in en
    assert remedy.period_name_de == "Klagefrist"


def test_ao_einspruch_at_the_familienkasse_never_a_widerspruch() -> None:
    fg = {"name": "Finanzgericht Köln", "at": "beim Finanzgericht Köln",
          "address": "Appellhofplatz 1, 50667 Köln"}  # fmt: skip
    procedure = _procedure(regime="ao_einspruch", authority=FAMILIENKASSE, court=fg)
    remedy = remedy_for(procedure)
    assert (remedy.kind, remedy.legal_basis, remedy.in_portal) == (
        "einspruch", "§§ 347, 355, 357 AO", True,
    )  # fmt: skip
    de = _de(procedure)
    assert "der Einspruch gegeben (§ 347 AO)" in de and "§ 355 Abs. 1 AO" in de
    assert "bei der Familienkasse Nordrhein-Westfalen West, 52058 Aachen" in de
    assert "Gegen die Einspruchsentscheidung kann danach Klage beim Finanzgericht Köln" in de
    assert "Widerspruch" not in de and "VwGO" not in de
    en = _en(procedure)
    assert "objection (Einspruch)" in en and "§ 347 AO" in en and "VwGO" not in en
    assert remedy.reinstatement_basis == "§ 110 AO" and remedy.period_name_de == "Einspruchsfrist"


def test_sgg_widerspruch_names_the_sgg_and_the_social_court() -> None:
    sg = {"name": "Sozialgericht Köln", "at": "beim Sozialgericht Köln",
          "address": "An den Dominikanern 2, 50668 Köln"}  # fmt: skip
    procedure = _procedure(
        regime="sgg_widerspruch", legal_basis="§ 13 Abs. 1 BEEG", authority=STADT, court=sg
    )
    remedy = remedy_for(procedure)
    assert (remedy.kind, remedy.in_portal, remedy.reinstatement_basis) == (
        "widerspruch", True, "§ 67 SGG",
    )  # fmt: skip
    de = _de(procedure)
    assert "Widerspruch erhoben werden (§§ 78, 83, 84 SGG; § 13 Abs. 1 BEEG)" in de
    assert "(§ 36a Abs. 2 SGB I)" in de and "VwGO" not in de
    assert "Klage beim Sozialgericht Köln, An den Dominikanern 2, 50668 Köln" in de
    en = _en(procedure)
    assert "§§ 78, 83, 84 SGG" in en and "Sozialgericht Köln" in en


def test_no_administrative_act_has_no_remedy_and_says_so() -> None:
    buergeramt = {"name": "Stadt Köln – Bürgeramt", "at": "bei der Stadt Köln, Bürgeramt",
                  "address": "Willy-Brandt-Platz 2, 50679 Köln"}  # fmt: skip
    procedure = _procedure(regime="no_administrative_act", authority=buergeramt)
    remedy = remedy_for(procedure)
    assert (remedy.kind, remedy.in_portal, remedy.legal_basis) == ("none", False, "")
    de = _de(procedure)
    assert "kein Verwaltungsakt; ein Rechtsbehelf ist dagegen nicht gegeben" in de
    assert "bei der Stadt Köln, Bürgeramt" in de and "Widerspruch" not in de
    assert "not an administrative act" in _en(procedure)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"regime": "vwgo_vorverfahren"}, "needs the authority"),
        ({"regime": "ao_einspruch"}, "needs the authority"),
        ({"regime": "sgg_widerspruch"}, "needs the authority"),
        ({"regime": "vwgo_klage", "authority": STADT}, "needs the competent court"),
        ({"regime": "ao_einspruch", "authority": FAMILIENKASSE, "objection_authority": STADT},
         "no Widerspruchsbehörde"),
        ({"regime": "no_administrative_act", "court": VG}, "names no court"),
        ({"regime": "widerspruch", "authority": STADT}, "regime"),
    ],
)  # fmt: skip
def test_a_procedure_names_what_its_regime_needs(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _procedure(**data)
