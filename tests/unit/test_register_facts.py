"""Provenance per value and register facts: what the machine may decide on, what a notice may
claim came from a register (issue 20, item 3). Pure: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest

from backend.cases.deciding import decide_case
from backend.definitions import load_definition
from backend.definitions.models import RegisterFact, ServiceDefinition
from backend.definitions.register_facts import register_fact_problems
from backend.domain.provenance import confirm_typed, source_of, unconfirmed, value_sources
from backend.notices.content import UncertifiedContent, check_certifiable
from backend.records.models import Case
from prefill.configuration import build_default_registry

REPO = Path(__file__).parents[2]
DAY = date(2026, 12, 4)
READ_AT = "2026-12-03T23:30:00+00:00"  # already 04.12. in Germany
HELD = {
    "familienname": "Mustermann",
    "vornamen": "Erika",
    "geburtsdatum": "1964-08-12",
    "geburtsort": "Berlin",
    "strasse": "Heidestraße",
    "hausnummer": "17",
    "plz": "51147",
    "ort": "Köln",
}


@pytest.fixture(scope="module")
def melde() -> ServiceDefinition:
    return load_definition(REPO / "services/meldebescheinigung", build_default_registry())


def _data(typed: tuple[str, ...] = (), **values: Any) -> dict[str, Any]:
    """Case data as intake writes it: register values with provenance, ``typed`` ones without."""
    merged = {**HELD, **values}
    return {
        "values": merged,
        "origin": {f: ("citizen" if f in typed else "registry") for f in merged},
        "provenance": {
            f: {"registry": "melderegister", "registry_title": "Melderegister", "as_of": READ_AT}
            for f in merged
            if f not in typed
        },
        "failed_fields": list(typed),
    }


def test_every_value_has_a_source_and_a_sentence_for_the_notice() -> None:
    data = _data(typed=("strasse",), strasse="Falschweg", hausnummer="1")
    sources = value_sources(data)
    assert set(sources) == set(HELD)
    assert sources["plz"].kind == "register"
    assert sources["plz"].sentence() == "Quelle: Melderegister, Stand 04.12.2026"
    assert sources["strasse"].kind == "citizen"
    assert sources["strasse"].sentence() == "Ihre Angabe"
    assert sources["strasse"].sentence("en") == "Your statement"
    assert unconfirmed(data, ["strasse", "plz"]) == ["strasse"]


def test_a_clerk_deciding_by_hand_stands_behind_typed_values_not_register_ones() -> None:
    data = _data(typed=("strasse",), strasse="Falschweg")
    at = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    confirmed = confirm_typed(data, by="clerk:k1", at=at, evidence="Melderegister eingesehen")
    assert source_of(confirmed, "strasse").kind == "clerk"
    assert source_of(confirmed, "strasse").sentence() == "Von der Behörde bestätigt am 04.12.2026"
    assert source_of(confirmed, "plz").kind == "register"
    assert unconfirmed(confirmed, ["strasse"]) == []


def test_typed_address_is_never_certified_by_the_machine(melde: ServiceDefinition) -> None:
    """Erika's case after an outage: the typed address refers, even once the outage is over
    (no failed field left); only a register read lets the machine decide."""
    data = _data(typed=("strasse", "hausnummer"), strasse="Falschweg", hausnummer="1")
    decision = decide_case(melde, data, "case-erika", DAY)
    assert decision.outcome == "referred"
    assert {"registry_failure", "unverified_register_fact"} <= set(decision.referral_reasons)
    over = decide_case(melde, {**data, "failed_fields": []}, "case-erika", DAY)
    assert over.referral_reasons == ["unverified_register_fact"]
    assert decide_case(melde, _data(), "case-erika", DAY).outcome == "approved"


def test_a_certificate_refers_for_any_typed_register_value_not_only_declared_facts(
    melde: ServiceDefinition,
) -> None:
    data = {**_data(typed=("geburtsort",), geburtsort="Bonn"), "failed_fields": []}
    decision = decide_case(melde, data, "case-1", DAY)
    assert decision.referral_reasons == ["unverified_register_fact"]
    assert decision.proposed_outcome == "approved"


def test_the_law_may_allow_deciding_on_the_statement(melde: ServiceDefinition) -> None:
    automation = melde.automation.model_copy(
        update={
            "register_facts": [
                RegisterFact(field="ort", allow_statement=True, legal_reference="§ 1 Satzung")
            ]
        }
    )
    plain = melde.model_copy(
        update={
            "automation": automation,
            "documents": [
                d.model_copy(update={"certifies_register": None}) for d in melde.documents
            ],
        }
    )
    data = {**_data(typed=("ort",), ort="Köln"), "failed_fields": []}
    assert decide_case(plain, data, "case-2", DAY).outcome == "approved"


def test_allow_statement_needs_its_provision() -> None:
    with pytest.raises(pydantic.ValidationError, match="legal_reference"):
        RegisterFact(field="ort", allow_statement=True)
    with pytest.raises(pydantic.ValidationError, match="only used with allow_statement"):
        RegisterFact(field="ort", legal_reference="§ 1")


def test_validate_names_declarations_that_could_never_take_effect(
    melde: ServiceDefinition,
) -> None:
    automation = melde.automation.model_copy(
        update={
            "register_facts": [
                RegisterFact(field="gibtsnicht"),
                RegisterFact(field="ort"),
                RegisterFact(field="ort"),
            ]
        }
    )
    broken = melde.model_copy(
        update={
            "automation": automation,
            "documents": [
                d.model_copy(update={"certifies_register": "gewerberegister"})
                for d in melde.documents
            ],
        }
    )
    problems = [(at, message) for at, message in register_fact_problems(broken)]
    assert problems == [
        (("automation", "register_facts", 0, "field"), "unknown field 'gibtsnicht'"),
        (("automation", "register_facts", 2, "field"), "field 'ort' is listed twice"),
        (
            ("documents", 0, "certifies_register"),
            "the service reads nothing from 'gewerberegister' (it reads: melderegister)",
        ),
    ]


def test_issuing_a_register_certificate_refuses_every_value_the_register_did_not_deliver(
    melde: ServiceDefinition,
) -> None:
    """The second guard, at issue time: whatever decided the case, a certificate of register
    content prints register values only; a clerk's confirmation is the authority's word, not
    the register's content."""
    (certificate,) = melde.documents
    data = _data(typed=("strasse",), strasse="Falschweg")
    case = Case(
        application_id="a",
        service=melde.id,
        service_version=melde.version,
        department=melde.department,
        citizen_sub="erika",
        reference_date=DAY,
        data=data,
        submitted_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    with pytest.raises(UncertifiedContent, match="strasse"):
        check_certifiable(melde, certificate, case)
    at = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    case.data = confirm_typed(data, by="clerk:k1", at=at, evidence="Register eingesehen")
    with pytest.raises(UncertifiedContent, match="strasse"):
        check_certifiable(melde, certificate, case)
    case.data = _data()
    check_certifiable(melde, certificate, case)


def test_a_reread_takes_the_registers_answer_and_keeps_what_the_citizen_typed() -> None:
    """The console's re-read: a delivered value becomes the register's (with provenance), the
    typed one stays as the citizen's statement; a field the register still cannot deliver
    keeps the typed value and its failure."""
    from backend.console.reread import apply_reread
    from prefill.connectors.base import NeedResult, Provenance
    from prefill.service import PrefillOutcome

    data = _data(typed=("strasse", "hausnummer"), strasse="Falschweg", hausnummer="1")
    read = Provenance(
        registry="melderegister",
        registry_title="Melderegister (Stadt Köln)",
        record_id="MR-1",
        as_of=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
    )
    outcome = PrefillOutcome(
        results={
            "strasse": NeedResult(
                attribute="anschrift.strasse", status="ok", value="Heidestraße", provenance=read
            ),
            "hausnummer": NeedResult(
                attribute="anschrift.hausnummer", status="failed", reason="registry error"
            ),
        },
        accesses=[],
    )
    updated, adopted = apply_reread(data, outcome, by="clerk:k1", at="2026-12-04T10:00:00+00:00")
    assert adopted == ["strasse"]
    assert updated["values"]["strasse"] == "Heidestraße"
    assert updated["statements"] == {"strasse": "Falschweg"}
    assert source_of(updated, "strasse").kind == "register"
    assert source_of(updated, "strasse").record_id == "MR-1"
    assert updated["failed_fields"] == ["hausnummer"]
    assert updated["values"]["hausnummer"] == "1"
    assert source_of(updated, "hausnummer").kind == "citizen"
    assert updated["rereads"]["strasse"]["same"] is False
    assert updated["rereads"]["hausnummer"]["status"] == "failed"
