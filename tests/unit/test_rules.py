"""Deciding cases from dated rules: outcomes, reasons, amounts, rounding and failure modes."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import cel
import pytest

from backend.definitions import ServiceDefinition, load_definition
from backend.definitions.models import Automation, EligibilityRule, LocalizedText, Threshold
from backend.domain.cel import FUNCTIONS, age_on
from backend.domain.decision import Decision, Reason
from backend.rules.evaluate import decide
from prefill.configuration import build_default_registry
from prefill.connectors.registry import ConnectorRegistry

REPO = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "definitions"

ERIKA: dict[str, Any] = {
    "familienname": "Mustermann",
    "vornamen": "Erika",
    "geburtsdatum": date(1964, 8, 12),
    "geburtsort": "Berlin",
    "strasse": "Heidestraße",
    "hausnummer": "17",
    "plz": "51147",
    "ort": "Köln",
}

# An applicant the "rechner" fixture grants: of age, in Köln, below the income limit.
GRANTED: dict[str, Any] = {
    "geburtsdatum": date(1990, 5, 1),
    "wohnort": "Köln",
    "einkommen": Decimal("25000.00"),
    "kinder": 1,
    "x": Decimal("2.675"),
}
DAY = date(2025, 6, 1)


@pytest.fixture(scope="module")
def connectors() -> ConnectorRegistry:
    return build_default_registry()


@pytest.fixture(scope="module")
def meldebescheinigung(connectors: ConnectorRegistry) -> ServiceDefinition:
    return load_definition(REPO / "services" / "meldebescheinigung", connectors)


@pytest.fixture(scope="module")
def rechner(connectors: ConnectorRegistry) -> ServiceDefinition:
    return load_definition(FIXTURES / "valid" / "rechner", connectors)


@pytest.fixture(scope="module")
def gebuehrtest(connectors: ConnectorRegistry) -> ServiceDefinition:
    return load_definition(FIXTURES / "valid" / "gebuehrtest", connectors)


def _effects(decision: Decision) -> list[tuple[str, str]]:
    return [(reason.rule_id, reason.outcome_effect) for reason in decision.reasons]


def test_erika_gets_her_certificate(meldebescheinigung: ServiceDefinition) -> None:
    decision = decide(meldebescheinigung, ERIKA, date(2025, 3, 1))
    assert decision.outcome == "approved"
    assert decision.referral_reasons == []
    assert _effects(decision) == [
        ("wohnung_gemeldet", "approve"),
        ("gemeldet_in_gemeinde", "approve"),
    ]
    assert decision.reasons[0].legal_reference == "§ 18 Abs. 1 BMG"
    assert decision.reasons[0].text.de.startswith("Im Melderegister ist Ihre Wohnung")
    assert decision.rule_version == "meldebescheinigung@1.0.0 (gültig ab 2024-01-01)"
    assert decision.reference_date == date(2025, 3, 1)
    assert decision.inputs == {**ERIKA, "geburtsdatum": "1964-08-12"}
    assert decision.amounts == {}


def test_an_empty_address_goes_to_a_clerk(meldebescheinigung: ServiceDefinition) -> None:
    decision = decide(meldebescheinigung, {**ERIKA, "strasse": "", "plz": "", "ort": ""}, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["rule_referred"]
    # An empty address is the clerk's to check, not a residence elsewhere.
    assert _effects(decision) == [
        ("wohnung_gemeldet", "refer"),
        ("gemeldet_in_gemeinde", "approve"),
    ]
    assert decision.reasons[0].text.en == (
        "The residents' register holds no complete address; a clerk will check the application."
    )


def test_a_missing_address_is_not_mistaken_for_one(meldebescheinigung: ServiceDefinition) -> None:
    # CEL says null != '' is true; a null value is absent instead, so the rule cannot pass.
    decision = decide(meldebescheinigung, {**ERIKA, "strasse": None}, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["rule_error"]
    assert "'strasse'" in (decision.reasons[0].detail or "")


@pytest.mark.parametrize(
    ("day", "fee", "shown_de", "shown_en"),
    [
        (
            date(2025, 12, 31),
            "30.00",
            "Verwaltungsgebühr: 30,00\xa0€",
            "Administrative fee: €30.00",
        ),
        (date(2026, 1, 1), "36.00", "Verwaltungsgebühr: 36,00\xa0€", "Administrative fee: €36.00"),
    ],
)
def test_fees_follow_the_parameter_valid_on_the_reference_date(
    gebuehrtest: ServiceDefinition, day: date, fee: str, shown_de: str, shown_en: str
) -> None:
    decision = decide(gebuehrtest, {"familienname": "Mustermann"}, day)
    assert decision.outcome == "approved"
    assert decision.amounts == {"gebuehr": Decimal(fee), "porto": Decimal("1.50")}
    fee_reason = next(reason for reason in decision.reasons if reason.rule_id == "gebuehr")
    assert (fee_reason.text.de, fee_reason.text.en) == (shown_de, shown_en)
    assert fee_reason.legal_reference == "§ 2 Gebührensatzung"


def test_no_fee_is_due_when_the_application_is_not_granted(gebuehrtest: ServiceDefinition) -> None:
    decision = decide(gebuehrtest, {"familienname": ""}, DAY)
    assert decision.outcome == "referred"
    assert decision.amounts == {}


@pytest.mark.parametrize(
    ("x", "cent", "euro_down", "euro_half_up"),
    [
        # 2.675 is 2.67499999… as a double; rounding must see the 2.675 the rule author meant.
        ("2.675", "2.68", "2", "3"),
        ("2.5", "2.50", "2", "3"),
        ("2.49", "2.49", "2", "2"),
        ("2.994", "2.99", "2", "3"),
    ],
)
def test_results_are_rounded_as_declared(
    rechner: ServiceDefinition, x: str, cent: str, euro_down: str, euro_half_up: str
) -> None:
    decision = decide(rechner, {**GRANTED, "x": Decimal(x)}, DAY)
    assert decision.amounts["cent"] == Decimal(cent)
    assert str(decision.amounts["cent"]) == cent
    assert decision.amounts["euro_ab"] == Decimal(euro_down)
    assert decision.amounts["euro_auf"] == Decimal(euro_half_up)


def test_unrounded_results_and_amount_placeholders(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, {**GRANTED, "x": Decimal("2.5")}, DAY)
    assert decision.outcome == "approved"
    assert decision.amounts["exakt"] == Decimal("7.5")
    cent = next(reason for reason in decision.reasons if reason.rule_id == "cent")
    assert (cent.text.de, cent.text.en) == ("Grundbetrag: 2,50 €", "Base amount: €2.50")
    total = next(reason for reason in decision.reasons if reason.rule_id == "summe")
    assert total.text.de == "Zuschuss insgesamt: 102,50 €"


@pytest.mark.parametrize(
    ("kinder", "stufe", "zuschlag"),
    [(4, "C", "300"), (3, "C", "300"), (2, "B", "100"), (1, "B", "100"), (0, "A", "0")],
)
def test_decision_tables_take_the_first_matching_row(
    rechner: ServiceDefinition, kinder: int, stufe: str, zuschlag: str
) -> None:
    decision = decide(rechner, {**GRANTED, "kinder": kinder, "x": Decimal("1.00")}, DAY)
    assert decision.outcome == "approved"
    assert decision.categories == {"stufe": stufe}
    assert decision.amounts["zuschlag"] == Decimal(zuschlag)
    assert decision.amounts["summe"] == Decimal(zuschlag) + Decimal("1.00")
    table = next(reason for reason in decision.reasons if reason.rule_id == "stufe")
    assert table.text.de == f"Stufe {stufe}"


def test_a_table_without_a_matching_row_refers(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, {**GRANTED, "kinder": -1}, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["rule_referred"]
    assert ("stufe", "refer") in _effects(decision)
    # Later amounts are not computed, and the rule reading them is skipped, not broken.
    assert "zuschlag" not in decision.amounts
    assert "summe" not in decision.amounts
    assert "positiv" not in dict(_effects(decision))


def test_a_table_falls_back_to_its_otherwise_value(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, {**GRANTED, "kinder": 0}, DAY)
    zuschlag = next(reason for reason in decision.reasons if reason.rule_id == "zuschlag")
    assert zuschlag.text.de == "Kein Zuschlag."
    assert decision.amounts["zuschlag"] == Decimal("0")


def test_amounts_above_a_threshold_go_to_a_clerk(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, {**GRANTED, "kinder": 3, "x": Decimal("800")}, DAY)
    assert decision.amounts["summe"] == Decimal("1100.00")
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["threshold"]
    assert decision.proposed_outcome == "approved"
    assert decision.reasons[-1].rule_id == "threshold:summe"
    assert decision.reasons[-1].text.de.startswith("„summe“ übersteigt 1.000;")


def test_rejections_state_every_failed_condition(rechner: ServiceDefinition) -> None:
    applicant = {**GRANTED, "geburtsdatum": date(2008, 6, 2), "einkommen": Decimal("30000.01")}
    decision = decide(rechner, applicant, DAY)
    assert decision.outcome == "rejected"
    assert decision.referral_reasons == []
    assert _effects(decision) == [
        ("volljaehrig", "reject"),
        ("wohnort", "approve"),
        ("einkommen", "reject"),
    ]
    assert decision.amounts == {}


def test_turning_eighteen_on_the_reference_date_counts(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, {**GRANTED, "geburtsdatum": date(2007, 6, 1)}, DAY)
    assert ("volljaehrig", "approve") in _effects(decision)


def test_a_referral_outranks_a_rejection(rechner: ServiceDefinition) -> None:
    applicant = {**GRANTED, "geburtsdatum": date(2008, 6, 2), "wohnort": "Bonn"}
    decision = decide(rechner, applicant, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["rule_referred"]
    assert decision.proposed_outcome is None
    assert _effects(decision)[:2] == [("volljaehrig", "reject"), ("wohnort", "refer")]


def test_a_cel_type_error_refers_instead_of_raising(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, {**GRANTED, "einkommen": "viel"}, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["rule_error"]
    failed = next(reason for reason in decision.reasons if reason.outcome_effect == "refer")
    assert failed.rule_id == "einkommen"
    assert failed.legal_reference == "§ 4 Zuschusssatzung"
    # The citizen's words hold no CEL message; the clerk's detail does.
    assert failed.text.en.startswith("Rule 'einkommen' could not be evaluated automatically")
    assert "No such overload" not in failed.text.de + failed.text.en
    assert failed.detail is not None
    assert failed.detail.startswith("the condition: ")
    assert "No such overload" in failed.detail


def test_a_missing_field_refers(rechner: ServiceDefinition) -> None:
    applicant = {key: value for key, value in GRANTED.items() if key != "geburtsdatum"}
    decision = decide(rechner, applicant, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["rule_error"]
    assert decision.reasons[0].rule_id == "volljaehrig"
    assert "no value for 'geburtsdatum'" in (decision.reasons[0].detail or "")


def _with_rule(definition: ServiceDefinition, condition: str) -> ServiceDefinition:
    text = LocalizedText(de="Text", en="Text")
    rule = EligibilityRule(
        kind="eligibility",
        id="probe",
        legal_reference="§ 1",
        condition=condition,
        otherwise="reject",
        reason=text,
        reason_otherwise=text,
    )
    return definition.model_copy(update={"rules": [rule]})


def test_a_condition_must_be_a_bool(rechner: ServiceDefinition) -> None:
    decision = decide(_with_rule(rechner, "fields.kinder"), GRANTED, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["rule_error"]
    assert "returned an int, expected a bool" in (decision.reasons[0].detail or "")


def test_an_edited_definition_is_not_served_from_the_cache(rechner: ServiceDefinition) -> None:
    assert decide(_with_rule(rechner, "fields.kinder > 0"), GRANTED, DAY).outcome == "approved"
    assert decide(_with_rule(rechner, "fields.kinder > 5"), GRANTED, DAY).outcome == "rejected"


def test_a_syntax_error_in_an_unloaded_definition_refers(rechner: ServiceDefinition) -> None:
    decision = decide(_with_rule(rechner, "fields.kinder >"), GRANTED, DAY)
    assert decision.outcome == "referred"
    assert "invalid CEL at 1:16" in (decision.reasons[0].detail or "")


def test_without_a_legal_basis_every_case_goes_to_a_clerk(rechner: ServiceDefinition) -> None:
    policy = Automation(
        referral_triggers=["rule_referred", "threshold"],
        thresholds=[Threshold(output="summe", above=1000)],
    )
    decision = decide(rechner.model_copy(update={"automation": policy}), GRANTED, DAY)
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["no_legal_basis"]
    assert decision.proposed_outcome == "approved"
    assert decision.reasons[-1].legal_reference == "§ 35a VwVfG"
    # The clerk still sees what the machine computed.
    assert decision.amounts["summe"] == Decimal("102.68")


def test_a_date_outside_the_rules_validity_refers(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, GRANTED, date(2031, 1, 1))
    assert decision.outcome == "referred"
    assert decision.referral_reasons == ["outside_validity"]


def test_decisions_round_trip_through_json(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, GRANTED, DAY)
    data = json.loads(json.dumps(decision.to_json()))
    assert data["amounts"]["cent"] == "2.68"
    assert data["inputs"]["einkommen"] == "25000.00"
    assert data["reference_date"] == "2025-06-01"
    assert data["categories"] == {"stufe": "B"}
    assert Decision.from_json(data) == decision
    referred = decision.refer("qa_sample")
    assert Decision.from_json(json.loads(json.dumps(referred.to_json()))) == referred


def test_a_decision_can_be_sent_to_a_person_afterwards(rechner: ServiceDefinition) -> None:
    decision = decide(rechner, GRANTED, DAY)
    reason = Reason(
        rule_id="disputed_data",
        legal_reference="§ 24 VwVfG",
        outcome_effect="refer",
        text=LocalizedText(de="Angaben bestritten.", en="Data disputed."),
    )
    referred = decision.refer("disputed_data", reason)
    assert referred.outcome == "referred"
    assert referred.referral_reasons == ["disputed_data"]
    assert referred.proposed_outcome == "approved"
    assert referred.refer("remark").proposed_outcome == "approved"
    assert referred.reasons == [*decision.reasons, reason]
    assert decision.outcome == "approved"


def test_unsupported_input_types_are_a_programming_error(rechner: ServiceDefinition) -> None:
    with pytest.raises(TypeError, match="a bytes cannot be used in a rule"):
        decide(rechner, {**GRANTED, "x": b"2"}, DAY)


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        ("1964-08-12", "2025-08-11", 60),
        ("1964-08-12", "2025-08-12", 61),
        # § 188 Abs. 3 BGB: born on 29 February, one year older from 1 March in common years.
        ("2004-02-29", "2022-02-28", 17),
        ("2004-02-29", "2022-03-01", 18),
        ("2004-02-29", "2024-02-29", 20),
    ],
)
def test_age_on_counts_completed_years(born: str, on: str, years: int) -> None:
    assert age_on(born, on) == years
    context = cel.Context(variables={"born": born, "on": on}, functions=FUNCTIONS)
    assert cel.evaluate("age_on(born, on)", context) == years


def test_age_on_refuses_nonsense() -> None:
    with pytest.raises(TypeError):
        age_on(19640812, "2025-01-01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before the birth date"):
        age_on("2025-01-02", "2025-01-01")
