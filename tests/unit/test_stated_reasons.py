"""Reasons that explain the tenor (issue 20, item 2): which reasons a citizen reads, how the
outcome is worded per kind of decision, what the portal does not ask, and what it says before
submitting. Pure: shipped definitions, the rules and the views, no database and no HTTP."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from backend.cases.outlook import register_rejections
from backend.cases.views import application_view
from backend.definitions import load_definition, validate_tree
from backend.definitions.models import ServiceDefinition
from backend.domain.decision import CLERK_RULE, stated_reasons
from backend.notifications.messages import Bilingual, MessageFacts, status_changed
from backend.records.models import Application
from backend.rules.evaluate import decide
from prefill.configuration import build_default_registry
from prefill.connectors.base import NOT_HELD

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 1)


def _shipped(slug: str) -> ServiceDefinition:
    return load_definition(ROOT / "services" / slug / "service.yaml", build_default_registry())


PARKING = {
    "familienname": "Krause",
    "vornamen": "Bernd",
    "strasse": "Kapellenstraße",
    "hausnummer": "8",
    "plz": "50997",
    "ort": "Köln",
    "anzahl_fahrzeuge": 1,
    "fahrzeuge": [{"kennzeichen": "K-BK 1966", "marke": "Mercedes-Benz"}],
    "kennzeichen": "K-BK 1966",
    "halter_strasse": "Kapellenstraße",
    "halter_hausnummer": "8",
    "halter_plz": "50997",
}


def _stated(slug: str, values: dict[str, Any]) -> tuple[str, list[str]]:
    decision = decide(_shipped(slug), values, DAY).to_json()
    return decision["outcome"], [
        r["rule_id"] for r in stated_reasons(decision["outcome"], decision["reasons"])
    ]


def test_bernds_refusal_states_only_the_failed_condition() -> None:
    decision = decide(_shipped("anwohnerparkausweis"), {**PARKING, "in_parkgebiet": False}, DAY)
    # The evaluation keeps every rule's result for the clerk: the guarded rules passed.
    assert {r.rule_id for r in decision.reasons if r.outcome_effect == "approve"} >= {
        "zone_bekannt",
        "fahrzeug_zugelassen",
    }
    outcome, stated = _stated("anwohnerparkausweis", {**PARKING, "in_parkgebiet": False})
    assert (outcome, stated) == ("rejected", ["wohnung_im_parkgebiet"])


def test_an_approval_states_what_carried_it_and_the_amounts() -> None:
    values = {**PARKING, "in_parkgebiet": True, "parkzone": "K-12"}
    outcome, stated = _stated("anwohnerparkausweis", values)
    assert outcome == "approved"
    assert stated == [
        "wohnsitz_gemeinde",
        "wohnung_im_parkgebiet",
        "fahrzeug_zugelassen",
        "fahrzeug_gehoert_antragsteller",
        "fahrzeug_an_wohnanschrift",
        "zone_bekannt",
        "laufzeit",
        "gebuehr",
    ]


def test_a_referral_states_only_what_referred_it() -> None:
    values = {**PARKING, "in_parkgebiet": True, "parkzone": "K-12", "halter_strasse": "Altweg"}
    outcome, stated = _stated("anwohnerparkausweis", values)
    assert (outcome, stated) == ("referred", ["fahrzeug_an_wohnanschrift"])


def _clerk(effect: str) -> dict[str, Any]:
    text = {"de": "Die Wohnung liegt seit der Neuordnung in Zone K-40.", "en": "Zone K-40."}
    return {"rule_id": CLERK_RULE, "legal_reference": "x", "outcome_effect": effect, "text": text}


def test_a_person_approving_against_the_rules_states_their_reason_not_the_guards() -> None:
    decision = decide(_shipped("anwohnerparkausweis"), {**PARKING, "in_parkgebiet": False}, DAY)
    reasons = [*decision.to_json()["reasons"], _clerk("approve")]
    assert [r["rule_id"] for r in stated_reasons("approved", reasons)] == [CLERK_RULE]
    rejected = [r["rule_id"] for r in stated_reasons("rejected", reasons)]
    assert rejected == ["wohnung_im_parkgebiet", CLERK_RULE]


def test_every_shipped_service_declares_or_derives_its_kind_of_decision() -> None:
    kinds = {
        slug: _shipped(slug).decision_kind
        for slug in (
            "anwohnerparkausweis",
            "einmalzahlung-studierende",
            "elterngeld",
            "hundesteuer-anmeldung",
            "kindergeld",
            "maengelmelder",
            "meldebescheinigung",
        )
    }
    assert kinds == {
        "anwohnerparkausweis": "application",
        "einmalzahlung-studierende": "application",
        "elterngeld": "application",
        "hundesteuer-anmeldung": "assessment",
        "kindergeld": "application",
        "maengelmelder": "application",
        "meldebescheinigung": "certificate",
    }


def _facts(kind: str, outcome: str) -> MessageFacts:
    return MessageFacts(
        service_title=Bilingual("Hundesteuer – Hund anmelden", "Dog tax – register a dog"),
        reference="KD-2026-000001",
        outcome=outcome,
        objection_deadline=date(2027, 1, 4),
        remedy_kind="klage",
        decision_kind=kind,
    )


def test_the_mailbox_words_the_outcome_by_kind_of_decision() -> None:
    tax = status_changed("notified", _facts("assessment", "approved")).body
    assert "festgesetzt" in tax.de and "assessed" in tax.en
    assert "stattgegeben" not in tax.de and "Ihrem Antrag" not in tax.de
    assert (
        "nichts festgesetzt" in status_changed("notified", _facts("assessment", "rejected")).body.de
    )
    certificate = status_changed("notified", _facts("certificate", "approved"))
    assert "Bescheinigung wurde ausgestellt" in certificate.body.de
    assert "Bescheid" not in certificate.body.de.replace("Bescheinigung", "")
    granted = status_changed("notified", _facts("application", "approved")).body.de
    assert "Ihrem Antrag wurde stattgegeben." in granted


def _parking_draft(in_zone: bool, vehicles: int = 1) -> Application:
    """Bernd's draft as prefill leaves it: Geodaten answered, with or without a zone."""
    provenance = {
        "registry": "geodaten",
        "registry_title": "Geodatenregister",
        "as_of": datetime(2026, 3, 1, tzinfo=UTC).isoformat(),
    }

    def ok(value: Any) -> dict[str, Any]:
        return {"status": "ok", "value": value, "provenance": provenance}

    prefill = {fid: ok(v) for fid, v in PARKING.items() if fid != "kennzeichen"}
    prefill["anzahl_fahrzeuge"] = ok(vehicles)
    prefill["in_parkgebiet"] = ok(in_zone)
    none = {"status": "empty", "reason": NOT_HELD}
    prefill["parkzone"] = ok("K-12") if in_zone else none
    prefill["parkzone_name"] = ok("Sülz") if in_zone else none
    answers = {"kennzeichen": "K-BK 1966"} if vehicles else {}
    return Application(
        service="anwohnerparkausweis",
        service_version="1.0.0",
        citizen_sub="bernd",
        prefill=prefill,
        answers=answers,
    )


def test_a_zone_the_register_answered_with_none_is_not_asked() -> None:
    view = application_view(_shipped("anwohnerparkausweis"), _parking_draft(in_zone=False))
    fields = {f.id: f for f in view.fields}
    assert not fields["parkzone"].asked and not fields["parkzone_name"].asked
    assert fields["parkzone"].origin == "citizen" and fields["parkzone"].prefill_status == "empty"
    # A register that did not know the person is no answer: the citizen is asked.
    app = _parking_draft(in_zone=False)
    app.prefill["parkzone"] = {"status": "empty", "reason": "person not registered"}
    assert {f.id: f for f in application_view(_shipped("anwohnerparkausweis"), app).fields}[
        "parkzone"
    ].asked


def test_the_check_page_outlook_names_what_the_registers_decided() -> None:
    definition = _shipped("anwohnerparkausweis")
    outside = register_rejections(
        definition, application_view(definition, _parking_draft(False)), DAY
    )
    assert [r.rule_id for r in outside] == ["wohnung_im_parkgebiet"]
    no_car = application_view(definition, _parking_draft(in_zone=True, vehicles=0))
    assert [r.rule_id for r in register_rejections(definition, no_car, DAY)] == [
        "fahrzeug_zugelassen"
    ]
    fine = application_view(definition, _parking_draft(in_zone=True))
    assert register_rejections(definition, fine, DAY) == []
    disputed = _parking_draft(in_zone=False)
    disputed.disputes = {"in_parkgebiet": "Die Zone wurde 2026 erweitert."}
    assert register_rejections(definition, application_view(definition, disputed), DAY) == []


def test_an_answer_of_the_citizen_is_not_announced_as_the_registers() -> None:
    """The dog's start date is the citizen's answer: changing it is theirs, no outlook."""
    definition = _shipped("hundesteuer-anmeldung")
    provenance = {
        "registry": "melderegister",
        "as_of": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
    }
    held = {"strasse": "Heidestraße", "hausnummer": "17", "plz": "51147", "ort": "Köln"}
    app = Application(
        service="hundesteuer-anmeldung",
        service_version="1.0.0",
        citizen_sub="erika",
        prefill={
            k: {"status": "ok", "value": v, "provenance": provenance} for k, v in held.items()
        },
        answers={
            "hundename": "Bello",
            "rasse": "mischling",
            "haltungsbeginn": "2026-05-01",
            "weitere_hunde": 0,
        },
    )
    assert register_rejections(definition, application_view(definition, app), DAY) == []
    app.prefill["ort"] = {"status": "ok", "value": "Bonn", "provenance": provenance}
    assert [
        r.rule_id for r in register_rejections(definition, application_view(definition, app), DAY)
    ] == ["wohnsitz_gemeinde"]


def _service_with(tmp_path: Path, old: str, new: str) -> list[str]:
    folder = tmp_path / "meldebescheinigung"
    shutil.copytree(ROOT / "services" / "meldebescheinigung", folder)
    path = folder / "service.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return validate_tree(folder, build_default_registry())


def test_validate_refuses_rule_check_prose(tmp_path: Path) -> None:
    problems = _service_with(
        tmp_path,
        "de: Im Melderegister ist Ihre Wohnung mit vollständiger Anschrift gespeichert; diese "
        "Anschrift wird bescheinigt.",
        "de: Die Anschrift steht fest.",
    )
    assert (
        len(problems) == 1
        and "rules[0].reason.de: 'steht fest' reports a rule check" in problems[0]
    )


def test_validate_refuses_a_reason_without_english(tmp_path: Path) -> None:
    problems = _service_with(
        tmp_path,
        "      en: The residents' register holds your home with its full address; that address "
        "is certified.\n",
        "",
    )
    assert problems and all("rules[0].reason.en" in p for p in problems), problems


def test_validate_refuses_the_same_reason_for_both_branches(tmp_path: Path) -> None:
    problems = _service_with(
        tmp_path,
        "de: Im Melderegister ist keine vollständige Anschrift gespeichert; eine Sachbearbeiterin "
        "prüft den Antrag.",
        "de: Im Melderegister ist Ihre Wohnung mit vollständiger Anschrift gespeichert; diese "
        "Anschrift wird bescheinigt.",
    )
    assert len(problems) == 1 and "the same reason whether its condition holds" in problems[0]
