"""Automation policy: when the machine must hand a case to a person. Pure, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass

REFERRAL_TEXT: dict[str, dict[str, str]] = {
    "no_legal_basis": {
        "de": "Für diesen Dienst gibt es keine Rechtsgrundlage für automatisierte Entscheidungen "
        "(§ 35a VwVfG); eine Sachbearbeiterin entscheidet.",
        "en": "This service has no legal basis for automated decisions (§ 35a VwVfG); "
        "a clerk decides.",
    },
    "automation_paused": {
        "de": "Die automatische Bearbeitung ist für diesen Dienst angehalten.",
        "en": "Automated processing is paused for this service.",
    },
    "disputed_data": {
        "de": "Sie haben Angaben aus einem Register als falsch gemeldet.",
        "en": "You reported data from a register as wrong.",
    },
    "remark": {
        "de": "Sie haben eine Anmerkung geschrieben, die eine Person lesen muss.",
        "en": "You wrote a remark that a person has to read.",
    },
    "registry_failure": {
        "de": "Ein Register war nicht erreichbar; Angaben wurden von Ihnen ergänzt.",
        "en": "A register could not be reached; you entered the data yourself.",
    },
    "register_blocked": {
        "de": "Für Angaben, die dieser Antrag braucht, ist im Melderegister eine Auskunftssperre "
        "eingetragen (§ 51 BMG). Sie schützt Sie vor Auskünften an Dritte; das Register gibt die "
        "Angaben deshalb nicht automatisch weiter. Sie haben sie selbst eingegeben, und eine "
        "Person prüft sie.",
        "en": "The residents' register holds an information block (§ 51 BMG) on data this "
        "application needs. It protects you against disclosure to third parties, so the register "
        "does not pass the data on automatically. You entered it yourself, and a person checks it.",
    },
    "held_data_missing": {
        "de": "Das Register hält Angaben nicht, die es für diesen Antrag halten müsste; "
        "Sie haben sie selbst eingegeben, und eine Person prüft sie.",
        "en": "The register does not hold data it should hold for this application; you "
        "entered it yourself, and a person checks it.",
    },
    "unverified_register_fact": {
        "de": "Eine Angabe, auf die es für die Entscheidung ankommt, muss aus einem Register "
        "stammen; das Register hatte sie nicht, Sie haben sie selbst eingegeben. Eine Person "
        "prüft sie.",
        "en": "A value the decision depends on must come from a register; the register did not "
        "have it and you entered it yourself. A person checks it.",
    },
    "rule_referred": {
        "de": "Eine Regel des Dienstes verlangt eine Prüfung durch eine Person.",
        "en": "A rule of the service requires a check by a person.",
    },
    "qa_sample": {
        "de": "Der Antrag wurde zufällig für die Qualitätssicherung ausgewählt.",
        "en": "The application was picked at random for quality assurance.",
    },
}


@dataclass(frozen=True)
class CaseSignals:
    """What the intake observed about a case that may stop automation."""

    disputed_fields: Collection[str]
    has_remark: bool
    failed_fields: Collection[str]
    rule_referred: bool
    empty_fields: Collection[str] = ()
    """Held fields the registry had nothing for and the citizen typed instead."""
    blocked_fields: Collection[str] = ()
    """Held fields the register withheld under an information block (§ 51 BMG): not an outage,
    and always a person's matter, whatever the triggers say."""
    unverified_facts: Collection[str] = ()
    """Register facts (automation.register_facts) whose value no register delivered and no clerk
    confirmed with evidence; unlike the triggers, always a referral."""


def in_qa_sample(case_id: str, rate: float) -> bool:
    """Deterministic per case, so a retried step samples the same way."""
    if rate <= 0:
        return False
    bucket = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < rate


def referral_reasons(
    *,
    legal_basis: str | None,
    triggers: Collection[str],
    signals: CaseSignals,
    case_id: str,
    qa_sample_rate: float,
    paused: bool = False,
) -> list[str]:
    """Reason codes that send the case to a person; empty means the machine may decide."""
    reasons: list[str] = []
    if not legal_basis:
        # § 35a VwVfG: without a legal basis no administrative act may be fully automated.
        reasons.append("no_legal_basis")
    if paused:
        reasons.append("automation_paused")
    # A citizen's dispute and a remark always reach a person, whatever the triggers say:
    # GDPR Art. 22 and § 24 Abs. 1 Satz 3 VwVfG require that what the citizen states is heard.
    if signals.disputed_fields:
        reasons.append("disputed_data")
    if signals.has_remark:
        reasons.append("remark")
    if signals.failed_fields and "registry_failure" in triggers:
        reasons.append("registry_failure")
    # § 51 BMG: the register withheld the value to protect the person; what was typed in its
    # place is checked by a person, never passed on as if the register had said it.
    if signals.blocked_fields:
        reasons.append("register_blocked")
    # A service that certifies what a register holds (a Meldebescheinigung) must not certify
    # what the citizen typed in its place: such services list this trigger.
    if signals.empty_fields and "held_data_missing" in triggers:
        reasons.append("held_data_missing")
    # The rules rely on these as a register states them; a typed value could be anything
    # (anyone could type the highest income), so no trigger list can switch this off.
    if signals.unverified_facts:
        reasons.append("unverified_register_fact")
    if signals.rule_referred:
        reasons.append("rule_referred")
    if "qa_sample" in triggers and in_qa_sample(case_id, qa_sample_rate):
        reasons.append("qa_sample")
    return reasons
