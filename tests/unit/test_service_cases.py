"""The real services' rules, checked without registers: § 2 BEEG and the test-case runner."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from backend.cases.service_tests import (
    CaseFileError,
    SandboxPrefill,
    _parse_case,
    load_cases,
    run_case,
)
from backend.definitions.catalogue import load_catalogue
from backend.rules.evaluate import decide
from prefill.configuration import build_default_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalogue():  # type: ignore[no-untyped-def]
    return load_catalogue(ROOT / "services", build_default_registry())


def _elterngeld(catalogue, netto: str | None) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    day = date(2026, 11, 22)
    born = (day - timedelta(days=20)).isoformat()
    fields = {
        "kind_vornamen": "Mia",
        "kind_geburtsdatum": born,
        "kinder_im_haushalt": [{"vornamen": "Mia", "geburtsdatum": born}],
        "ab_lebensmonat": 1,
        "anzahl_monate": 12,
        "betreuung_selbst": True,
        "selbststaendig": False,
    }
    if netto is not None:
        fields["nettoeinkommen"] = netto
    decision = decide(catalogue.get("elterngeld"), fields, day)
    assert decision.outcome == "approved", decision.reasons
    return decision.amounts


@pytest.mark.parametrize(
    ("netto", "rate", "monthly"),
    [
        ("1100.00", "67.00", "737.00"),  # between 1,000 and 1,200 €: 67 %
        ("900.00", "72.00", "648.00"),  # 50 steps of 2 € below 1,000 €: +5 points
        ("901.00", "71.90", "647.82"),  # 49 full steps: +4.9 points
        ("340.00", "100.00", "340.00"),  # capped at 100 %
        ("200.00", "100.00", "300.00"),  # minimum 300 €
        ("1220.00", "66.00", "805.20"),  # 10 steps above 1,200 €: -1 point
        ("2480.00", "65.00", "1612.00"),  # floor 65 %
        ("3125.50", "65.00", "1800.00"),  # maximum 1,800 €
        (None, "100.00", "300.00"),  # no income: the minimum
    ],
)
def test_elterngeld_follows_paragraph_2_beeg(catalogue, netto, rate, monthly) -> None:  # type: ignore[no-untyped-def]
    amounts = _elterngeld(catalogue, netto)
    assert amounts["ersatzrate"] == Decimal(rate)
    assert amounts["elterngeld_monat"] == Decimal(monthly)
    assert amounts["elterngeld_gesamt"] == Decimal(monthly) * 12


def test_every_real_service_has_six_cases(catalogue) -> None:  # type: ignore[no-untyped-def]
    for definition in catalogue.all():
        assert len(load_cases(definition.id, catalogue.folder(definition.id))) >= 6


def test_a_wrong_expectation_fails_with_a_readable_diff(catalogue) -> None:  # type: ignore[no-untyped-def]
    case = load_cases("einmalzahlung-studierende", catalogue.folder("einmalzahlung-studierende"))[0]
    wrong = dataclasses.replace(
        case,
        expect=dataclasses.replace(case.expect, amounts={"auszahlung": Decimal("300")}),
    )

    async def run() -> list[str]:
        sandbox = SandboxPrefill(build_default_registry())
        try:
            ok = await run_case(catalogue.get("einmalzahlung-studierende"), case, sandbox)
            assert ok.passed, ok.differences
            bad = await run_case(catalogue.get("einmalzahlung-studierende"), wrong, sandbox)
            return bad.differences
        finally:
            await sandbox.aclose()

    differences = asyncio.run(run())
    assert differences[0] == "amounts.auszahlung: expected 300, got 200.00"


def test_a_broken_case_file_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match="unknown persona 'nobody'"):
        _parse_case("x", {"name": "n", "persona": "nobody", "expect": {}}, tmp_path, 0)
    with pytest.raises(CaseFileError, match=r"expect\.outcome: one of"):
        _parse_case(
            "x", {"name": "n", "persona": "erika", "expect": {"outcome": "ok"}}, tmp_path, 0
        )
