"""Impact analysis before a rule change: replay recent cases under a draft, without side effects.

A department changes its rules confidently only when it knows beforehand which decisions the
change would alter. This module loads a draft service.yaml through the same loader that
guards the catalogue, then decides the service's cases of the last N days twice with the
stored inputs: under the live definition and under the draft, with the same automation
policy the worker applies (backend/cases/processing.py, decide step). Only the two replays
are compared, so differences come from the rules alone, not from a case having been decided
under an older version or on another day. Nothing is written: no case, no event, no job.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from backend.cases.deciding import decide_case
from backend.columns import aware
from backend.definitions.catalogue import Catalogue
from backend.definitions.loader import DEFINITION_FILE, load_definition
from backend.definitions.models import EligibilityRule, ServiceDefinition
from backend.definitions.versions import definition_files
from backend.department.identity import ClerkIdentity, Permission
from backend.domain.decision import Decision
from backend.errors import DefinitionError, Forbidden, InvalidInput, NotFound
from backend.records.models import Case
from prefill.connectors.registry import ConnectorRegistry

MAX_DRAFT_BYTES = 256 * 1024
MAX_DAYS = 366
MAX_CASES = 20_000
"""A replay decides every case twice in the web process; beyond this the analysis refuses
rather than tie up a worker thread for minutes."""
DRAFT_NAME = "entwurf/service.yaml"
"""How problems name the draft: the temporary folder it is checked in means nothing to anyone."""


def load_draft(
    catalogue: Catalogue, connectors: ConnectorRegistry, service: str, text: str
) -> ServiceDefinition:
    """Validate a draft of a live service exactly as the catalogue validates definitions.

    The draft is checked in a temporary copy of the service's folder, so its notice
    templates resolve as they would live. Every problem comes back as `file:line path: text`.
    """
    live_folder = catalogue.folder(service)
    raw = text.encode("utf-8")
    if not raw.strip():
        raise InvalidInput("Der Entwurf ist leer. (The draft is empty.)")
    if len(raw) > MAX_DRAFT_BYTES:
        raise InvalidInput(
            f"Der Entwurf ist größer als {MAX_DRAFT_BYTES // 1024} KB. "
            f"(The draft exceeds {MAX_DRAFT_BYTES // 1024} KB.)"
        )
    with tempfile.TemporaryDirectory(prefix="kd-draft-") as tmp:
        folder = Path(tmp) / service
        shutil.copytree(
            live_folder,
            folder,
            ignore=shutil.ignore_patterns(DEFINITION_FILE, "tests", "versions"),
        )
        file = folder / DEFINITION_FILE
        file.write_bytes(raw)
        try:
            return load_definition(file, connectors)
        except DefinitionError as exc:
            where = file.as_posix()
            raise InvalidInput(
                "Der Entwurf ist ungültig. (The draft is invalid.)",
                details=[
                    {"field": "definition", "message": p.replace(where, DRAFT_NAME)}
                    for p in exc.problems
                ],
            ) from None


def live_definition_text(catalogue: Catalogue, service: str) -> str:
    """The file text of the version in force, as the starting point of a draft."""
    return version_text(catalogue, service, catalogue.get(service).version)


def version_text(catalogue: Catalogue, service: str, version: str) -> str:
    """The file text of one version of a service (the designer starts drafts from any)."""
    for file in definition_files(catalogue.folder(service)):
        text = file.read_text(encoding="utf-8")
        try:
            head = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if isinstance(head, dict) and str(head.get("version")) == version:
            return text
    raise NotFound("Die Definition dieses Dienstes wurde nicht gefunden. (Definition not found.)")


def replay(
    definition: ServiceDefinition,
    data: Mapping[str, Any],
    case_id: str,
    reference_date: date,
) -> Decision:
    """Decide a case from its stored data as the worker would (backend.cases.deciding), without
    side effects and without the automation switch, which is not part of a rule change."""
    return decide_case(definition, data, case_id, reference_date)


def _amount_owners(definition: ServiceDefinition) -> dict[str, str]:
    """Which rule or fee computes each amount, so a changed amount names its rule."""
    owners = {
        rule.output: rule.id for rule in definition.rules if not isinstance(rule, EligibilityRule)
    }
    owners.update({fee.id: fee.id for fee in definition.fees})
    return owners


def differing_rules(
    before: Decision, after: Decision, live: ServiceDefinition, draft: ServiceDefinition
) -> list[str]:
    """Ids of the rules, fees and policy checks whose result differs between two decisions."""

    def results(decision: Decision) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for reason in decision.reasons:
            found.setdefault(reason.rule_id, []).append((reason.outcome_effect, reason.text.de))
        return found

    old, new = results(before), results(after)
    changed = [rule for rule in dict.fromkeys([*new, *old]) if old.get(rule) != new.get(rule)]
    owners = {**_amount_owners(live), **_amount_owners(draft)}
    for name in dict.fromkeys([*after.amounts, *before.amounts]):
        if before.amounts.get(name) != after.amounts.get(name):
            changed.append(owners.get(name, name))
    for name in dict.fromkeys([*after.categories, *before.categories]):
        if before.categories.get(name) != after.categories.get(name):
            changed.append(owners.get(name, name))
    for code in dict.fromkeys([*after.referral_reasons, *before.referral_reasons]):
        if (code in before.referral_reasons) != (code in after.referral_reasons):
            changed.append(f"policy:{code}")
    return list(dict.fromkeys(changed))


def decision_changed(before: Decision, after: Decision) -> bool:
    """What the citizen would notice: outcome, proposal, amounts, categories or referral."""
    return (
        before.outcome != after.outcome
        or before.proposed_outcome != after.proposed_outcome
        or before.amounts != after.amounts
        or before.categories != after.categories
        or set(before.referral_reasons) != set(after.referral_reasons)
    )


@dataclass(frozen=True)
class ChangedCase:
    """One case whose decision the draft would change."""

    case_id: str
    reference: str
    submitted_at: datetime
    reference_date: date
    stored_outcome: str | None
    before_outcome: str
    after_outcome: str
    before_amounts: dict[str, Decimal]
    after_amounts: dict[str, Decimal]
    rules: list[str]


@dataclass(frozen=True)
class ImpactReport:
    """How many decisions of the last N days a draft would change, which, and by which rule."""

    service: str
    live_version: str
    draft_version: str
    days: int
    as_of: date | None
    replayed: int
    changed: list[ChangedCase]
    transitions: dict[str, int]
    """'approved → rejected': count, over the changed cases."""
    rules: dict[str, int]
    """Rule id: in how many changed cases it differs."""
    drifted: int
    """Cases whose live replay differs from their stored outcome (decided under an older
    version, by a person, or their reference date moved): shown so nobody mistakes them."""

    @property
    def unchanged(self) -> int:
        return self.replayed - len(self.changed)


def require_supervisor(clerk: ClerkIdentity) -> None:
    """Rule changes are the department head's responsibility, and so is weighing them."""
    if not clerk.is_supervisor:
        raise Forbidden(
            "Die Wirkungsanalyse ist der Leitung vorbehalten. (Impact analysis is for supervisors.)"
        )


def _check_draft(
    clerk: ClerkIdentity, catalogue: Catalogue, service: str, draft: ServiceDefinition
) -> ServiceDefinition:
    """The live definition, after making sure the clerk owns it and the draft fits it."""
    if service not in catalogue:
        raise NotFound("Diesen Dienst gibt es nicht. (Unknown service.)")
    live = catalogue.get(service)
    if live.department != clerk.department:
        # Another department's service does not exist for this clerk.
        raise NotFound("Diesen Dienst gibt es nicht. (Unknown service.)")
    if not (clerk.is_supervisor or clerk.can(Permission.DESIGN)):
        # A designer weighs their own draft in the designer; the page itself is the head's.
        raise Forbidden(
            "Die Wirkungsanalyse ist der Leitung vorbehalten. (Impact analysis is for supervisors.)"
        )
    if draft.id != live.id:
        raise InvalidInput(
            f"Der Entwurf beschreibt „{draft.id}“, nicht „{live.id}“. "
            f"(The draft is for '{draft.id}', not '{live.id}'.)"
        )
    if draft.department != live.department:
        raise InvalidInput(
            "Ein Entwurf kann den Dienst keinem anderen Fachbereich zuordnen. "
            "(A draft cannot move the service to another department.)"
        )
    if live.processing == "external" or draft.processing == "external":
        raise InvalidInput(
            "Dieser Dienst wird im Fachverfahren entschieden; es gibt keine Regeln zum "
            "Nachspielen. (This service is decided in its Fachverfahren: no rules to replay.)"
        )
    return live


def analyse_impact(
    session: Session,
    clerk: ClerkIdentity,
    catalogue: Catalogue,
    service: str,
    draft: ServiceDefinition,
    *,
    days: int,
    now: datetime,
    as_of: date | None = None,
) -> ImpactReport:
    """Replay the service's cases submitted in the last ``days`` days; read-only.

    ``as_of`` replays every case as if decided on that day (e.g. the draft's first day);
    by default each case keeps its own reference date.
    """
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            f"Bitte einen Zeitraum von 1 bis {MAX_DAYS} Tagen wählen. "
            f"(Choose between 1 and {MAX_DAYS} days.)"
        )
    live = _check_draft(clerk, catalogue, service, draft)
    since = aware(now) - timedelta(days=days)
    cases = session.exec(
        select(Case)
        .where(
            col(Case.department) == clerk.department,
            col(Case.service) == service,
            col(Case.submitted_at) >= since,
        )
        .order_by(col(Case.submitted_at).desc())
        .limit(MAX_CASES + 1)
    ).all()
    if len(cases) > MAX_CASES:
        raise InvalidInput(
            f"Mehr als {MAX_CASES} Vorgänge im Zeitraum; bitte einen kürzeren wählen. "
            f"(More than {MAX_CASES} cases in this period; choose a shorter one.)"
        )
    changed: list[ChangedCase] = []
    transitions: Counter[str] = Counter()
    rule_counts: Counter[str] = Counter()
    drifted = 0
    for case in cases:
        day = as_of or case.reference_date
        before = replay(live, case.data, case.id, day)
        after = replay(draft, case.data, case.id, day)
        stored = case.decision.get("outcome") if case.decision else None
        if as_of is None and stored is not None and stored != before.outcome:
            drifted += 1
        if not decision_changed(before, after):
            continue
        rules = differing_rules(before, after, live, draft)
        transitions[f"{before.outcome} → {after.outcome}"] += 1
        rule_counts.update(rules)
        changed.append(
            ChangedCase(
                case_id=case.id,
                reference=case.reference,
                submitted_at=aware(case.submitted_at),
                reference_date=day,
                stored_outcome=case.outcome,
                before_outcome=before.outcome,
                after_outcome=after.outcome,
                before_amounts=dict(before.amounts),
                after_amounts=dict(after.amounts),
                rules=rules,
            )
        )
    return ImpactReport(
        service=service,
        live_version=live.rule_version,
        draft_version=draft.rule_version,
        days=days,
        as_of=as_of,
        replayed=len(cases),
        changed=changed,
        transitions=dict(transitions.most_common()),
        rules=dict(rule_counts.most_common()),
        drifted=drifted,
    )
