"""Every shipped service's notices state the reasons that carried their outcome, none against it.

Each integrator test case whose rules approve or reject is rendered with `knopfdruck services
preview` (persona prefilled from the sandbox, the case's answers and reference date), and the
PDF's text is read. A rejection states a failed condition and none that held; an approval
states every condition that held (where the document prints reasons) and none that failed.
Before issue 20, Bernd's refusal said both "Ihre Wohnung liegt in keinem Bewohnerparkgebiet"
and "Die Geodaten nennen das Bewohnerparkgebiet Ihrer Wohnung; dort gilt der Ausweis".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.definitions.models import DecisionTableRule, EligibilityRule, ServiceDefinition
from tests.conftest import ROOT
from tests.integration.test_notice_remedy import SHIPPED, _definition, _text


def _case_file(slug: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(
        (ROOT / "services" / slug / "tests" / "cases.yaml").read_text()
    )["cases"]
    return cases


def _cases() -> list[tuple[str, dict[str, Any]]]:
    """(service, case): per shipped service, its first integrator case the rules approve and
    its first they reject, where the service issues a document for that outcome."""
    found = []
    for slug in SHIPPED:
        issued = {o for d in _definition(slug).documents for o in d.on}
        for outcome in ("approved", "rejected"):
            first = next((c for c in _case_file(slug) if c["expect"]["outcome"] == outcome), None)
            if outcome in issued and first is not None:
                found.append((slug, first))
    return found


def _case(slug: str, name_starts: str) -> dict[str, Any]:
    return next(c for c in _case_file(slug) if c["name"].startswith(name_starts))


# Kindergeld's integrator cases never reach the rules' rejection (a typed child goes to a
# person first), but its notice has one: Erika's typed child of 37 is too old by the rules.
_KINDERGELD_REJECTION = {
    "name": "Erika, Kind über 25 – nach den Regeln abgelehnt",
    "persona": "erika",
    "reference_date": "2026-11-01",
    "answers": {
        "kind_vornamen": "Max",
        "kind_familienname": "Mustermann",
        "kind_geburtsdatum": "1989-05-01",
        "anderer_elternteil_beantragt_nicht": True,
        "iban": "DE02120300000000202051",
    },
    "expect": {"outcome": "rejected"},
}


_RENDERED: dict[str, tuple[str, dict[str, str]]] = {}
"""Rendered previews by service and case: a render takes seconds, and tests share them."""


# The portal refuses a start date in the future before the rules see it (issue 21), so no
# integrator case reaches the rules' rejection; the notice has one, and the preview shows it.
_DOG_TAX_REJECTION = {
    "name": "Bernd, Hund erst ab nächstem Monat – nach den Regeln keine Steuer",
    "persona": "bernd",
    "reference_date": "2026-02-01",
    "answers": {
        "hundename": "Max",
        "rasse": "mischling",
        "rasse_bezeichnung": "Mischling",
        "haltungsbeginn": "2026-03-01",
        "weitere_hunde": 0,
    },
    "expect": {"outcome": "rejected"},
}


def _render(slug: str, case: dict[str, Any], tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The outcome the rules reach, and each rendered document's text by document id."""
    key = f"{slug}:{yaml.safe_dump(case, sort_keys=True)}"
    if key not in _RENDERED:
        _RENDERED[key] = _preview(slug, case, tmp_path)
    return _RENDERED[key]


def _preview(slug: str, case: dict[str, Any], tmp_path: Path) -> tuple[str, dict[str, str]]:
    outcome = case["expect"]["outcome"]
    args = ["services", "preview", slug, "--persona", case["persona"], "--outcome", outcome]
    args += ["-o", str(tmp_path / "out")]
    if case.get("reference_date"):
        args += ["--date", str(case["reference_date"])]
    for key, value in (case.get("answers") or {}).items():
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--answer", f"{key}={shown}"]
    done = subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "KNOPFDRUCK_DATA_DIR": str(tmp_path / "data")},
    )
    assert done.returncode == 0, done.stderr
    assert f"the rules decide '{outcome}'" in done.stdout, done.stdout
    texts = {}
    for line in done.stdout.splitlines():
        if line.endswith(".pdf"):
            texts[Path(line).name.split("-")[0]] = _text(Path(line))
    return outcome, texts


def _said(text: str, sentence: str) -> bool:
    """Whether a reason sentence is printed; the PDF wraps lines anywhere."""
    return " ".join(sentence.split()) in text


def _texts(definition: ServiceDefinition) -> tuple[list[str], list[str], list[str]]:
    """German reason texts of the rules: for a condition met, a rejection, a referral."""
    met, rejecting, referring = [], [], []
    for rule in definition.rules:
        if isinstance(rule, EligibilityRule):
            met.append(rule.reason.de)
            (rejecting if rule.otherwise == "reject" else referring).append(
                rule.reason_otherwise.de
            )
        elif isinstance(rule, DecisionTableRule) and rule.can_refer:
            referring.append(rule.reason_otherwise.de)
    return met, rejecting, referring


@pytest.mark.parametrize(
    ("slug", "case"),
    [
        *_cases(),
        ("kindergeld", _KINDERGELD_REJECTION),
        ("hundesteuer-anmeldung", _DOG_TAX_REJECTION),
    ],
    ids=lambda v: v["name"] if isinstance(v, dict) else v,
)
def test_the_reasons_support_the_outcome(slug: str, case: dict[str, Any], tmp_path: Path) -> None:
    definition = _definition(slug)
    met, rejecting, referring = _texts(definition)
    outcome, texts = _render(slug, case, tmp_path)
    assert texts, f"{slug} issued no document for {outcome}"
    kinds = {d.id: d.kind for d in definition.documents}
    for doc_id, text in texts.items():
        against = [t for t in referring if _said(text, t)]
        if outcome == "rejected":
            against += [t for t in met if _said(text, t)]
            assert any(_said(text, t) for t in rejecting), f"{doc_id}: no failed condition"
        else:
            against += [t for t in rejecting if _said(text, t)]
            if kinds[doc_id] == "notice":
                missing = [t for t in met if not _said(text, t)]
                assert not missing, f"{doc_id}: conditions that carried it are missing"
        assert not against, f"{doc_id} ({outcome}) states reasons against its outcome: {against}"


def test_bernds_refusal_says_only_that_his_home_lies_in_no_zone(tmp_path: Path) -> None:
    _, texts = _render("anwohnerparkausweis", _case("anwohnerparkausweis", "Bernd"), tmp_path)
    text = texts["bescheid"]
    assert "Nach den Geodaten der Stadt liegt Ihre Wohnung in keinem Bewohnerparkgebiet" in text
    assert "Der Ausweis gilt in dem Bewohnerparkgebiet" not in text
    assert "Die Geodaten nennen das Bewohnerparkgebiet" not in text
    assert "Fahrzeug" not in text.split("Begründung", 1)[1].split("Rechtsbehelf", 1)[0]


def test_sophie_who_is_married_is_not_called_the_only_parent(tmp_path: Path) -> None:
    _, texts = _render("kindergeld", _case("kindergeld", "Sophie"), tmp_path)
    text = next(iter(texts.values()))
    assert "einziger Elternteil" not in text
    assert "dass der andere Elternteil für das Kind kein Kindergeld beantragt" in text


def test_the_dog_tax_is_assessed_not_granted(tmp_path: Path) -> None:
    for case, tenor in (
        (_case("hundesteuer-anmeldung", "Erika"), "festgesetzt"),
        (_DOG_TAX_REJECTION, "keine Hundesteuer festgesetzt"),
    ):
        outcome, texts = _render("hundesteuer-anmeldung", case, tmp_path / case["persona"])
        text = texts["bescheid"]
        assert tenor in text
        for granted in ("bewilligt", "stattgegeben", "wird abgelehnt", "Ihr Antrag"):
            assert granted not in text, (outcome, granted)
        assert "steht fest" not in text and "plausibel" not in text
