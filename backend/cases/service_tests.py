"""Integrator test cases: persona + answers + reference date → expected decision, run for real.

A service folder holds ``tests/*.yaml``, each with a list under ``cases:``::

    cases:
      - name: Katrin, ein Fahrzeug im Bewohnerparkgebiet
        persona: katrin                 # a sandbox persona (docs/personas.md)
        reference_date: 2026-03-01      # optional; default: the day the test runs
        version: "2.0.0"                # optional: test this version, e.g. one valid from
                                        # next year (default: the version valid on the
                                        # reference date, else today)
        tenant: bergheim                # optional: the service as this tenant activated it
                                        # (implied for tenants/<id>/tests/<service>.yaml)
        answers: {kennzeichen: K-KS 4711}
        disputes: {strasse: Ich bin umgezogen.}   # optional: "this is wrong"
        remark: Bitte rufen Sie mich an.          # optional
        expect:
          outcome: approved             # approved | rejected | referred | handed_over
                                        # | incomplete | forbidden
          amounts: {gebuehr: 100.00}    # optional: each named amount must match exactly
          categories: {steuerklasse: erster Hund}
          referral_reasons: [rule_referred]   # optional: the exact set
          prefill: {kennzeichen: empty} # optional: ok | empty | failed per field
          missing: [foto]               # optional, with outcome incomplete
          invalid: [iban]               # optional: answers the portal must refuse

**Decision: prefill over a loopback sandbox, not the population directly.** Each run builds a
fresh sandbox registries app in-process and reaches it through ``httpx.ASGITransport`` with
the real connectors and ``prefill.prefill``: the same purpose headers, hint handling
(``mehrdeutig`` → empty, Auskunftssperre → failed), key chaining (Geodaten by the Melderegister
address) and JSON shapes as in production. Reading the population directly would test rules
against values no connector ever delivers. Values then go through the portal's own answer
checks and merging (``answers.coerce``, ``applications.merged_values``), the rule engine
(``rules.evaluate.decide``) and the automation policy (``domain.policy.referral_reasons``),
exactly as the worker's decide step does. Nothing touches a database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
import yaml

from backend.cases.applications import data_needs
from backend.cases.deciding import decide_case
from backend.cases.submission import intake_record, missing_required
from backend.definitions.answers import allowed_answers, coerce
from backend.definitions.catalogue import Catalogue
from backend.definitions.constraints import local_today
from backend.definitions.models import ServiceDefinition
from backend.definitions.versions import current_version
from backend.records.models import Application, Case
from prefill.configuration import registry_configs
from prefill.connectors.base import TRUST_ORDER
from prefill.connectors.registry import ConnectorRegistry
from prefill.service import prefill
from sandbox.personas import Persona, persona_by_id
from sandbox.population import LazyPopulation
from sandbox.registries.app import build_registries_app

OUTCOMES = ("approved", "rejected", "referred", "handed_over", "incomplete", "forbidden")
PREFILL_STATES = ("ok", "empty", "failed")
_SANDBOX_URL = "http://sandbox-registries.test"
_CASE_KEYS = {
    "name", "persona", "reference_date", "version", "tenant", "answers", "disputes", "remark",
    "expect",
}  # fmt: skip
_EXPECT_KEYS = {
    "outcome", "amounts", "categories", "referral_reasons", "prefill", "missing", "invalid"
}  # fmt: skip


class CaseFileError(ValueError):
    """A test file an integrator has to fix; the message names file and case."""


@dataclass(frozen=True)
class Expectation:
    """What one case must come to."""

    outcome: str
    amounts: dict[str, Decimal] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    referral_reasons: tuple[str, ...] | None = None
    prefill: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] | None = None
    invalid: tuple[str, ...] = ()
    """Answers the portal must refuse (e.g. an IBAN with a wrong check sum)."""


@dataclass(frozen=True)
class ServiceTestCase:
    """One integrator test case, as read from a service's tests/*.yaml."""

    service: str
    name: str
    persona: str
    answers: dict[str, Any]
    disputes: dict[str, str]
    remark: str | None
    reference_date: date | None
    expect: Expectation
    file: Path
    line: int = 0
    """Line of the case in its file, so a failure points at it."""
    version: str | None = None
    tenant: str | None = None
    """The tenant whose activation of the service the case tests; None: the template."""


@dataclass(frozen=True)
class CaseResult:
    """The result of one case: what it came to and every difference from the expectation."""

    case: ServiceTestCase
    outcome: str
    differences: list[str]
    amounts: dict[str, Decimal] = field(default_factory=dict)
    referral_reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CaseFileError(f"{where}: expected a number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise CaseFileError(f"{where}: expected a number, got {value!r}") from None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CaseFileError(f"{where}: expected a mapping (key: value)")
    return {str(k): v for k, v in value.items()}


def _parse_case(
    service: str, raw: Any, file: Path, index: int, line: int = 0, tenant: str | None = None
) -> ServiceTestCase:
    where = f"{file}:{line}: cases[{index}]" if line else f"{file}: cases[{index}]"
    if not isinstance(raw, dict):
        raise CaseFileError(f"{where}: expected a mapping with name, persona and expect")
    unknown = set(raw) - _CASE_KEYS
    if unknown:
        raise CaseFileError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    name = raw.get("name")
    persona = raw.get("persona")
    if not isinstance(name, str) or not name.strip():
        raise CaseFileError(f"{where}.name: every case needs a name")
    where = f"{file}:{line}: case '{name}'" if line else f"{file}: case '{name}'"
    if not isinstance(persona, str) or persona_by_id(persona) is None:
        raise CaseFileError(f"{where}.persona: unknown persona {persona!r} (see docs/personas.md)")
    day = raw.get("reference_date")
    if day is not None and not isinstance(day, date):
        try:
            day = date.fromisoformat(str(day))
        except ValueError:
            raise CaseFileError(f"{where}.reference_date: expected YYYY-MM-DD") from None
    expect = _mapping(raw.get("expect"), f"{where}.expect")
    unknown = set(expect) - _EXPECT_KEYS
    if unknown:
        raise CaseFileError(f"{where}.expect: unknown key(s) {', '.join(sorted(unknown))}")
    outcome = expect.get("outcome")
    if outcome not in OUTCOMES:
        raise CaseFileError(f"{where}.expect.outcome: one of {', '.join(OUTCOMES)}")
    reasons = expect.get("referral_reasons")
    if reasons is not None and not (
        isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)
    ):
        raise CaseFileError(f"{where}.expect.referral_reasons: expected a list of codes")
    states = {k: str(v) for k, v in _mapping(expect.get("prefill"), where).items()}
    for key, state in states.items():
        if state not in PREFILL_STATES:
            raise CaseFileError(f"{where}.expect.prefill.{key}: one of ok, empty, failed")
    missing = expect.get("missing")
    remark = raw.get("remark")
    version = raw.get("version")
    if version is not None and not isinstance(version, str | int | float):
        raise CaseFileError(f'{where}.version: expected a version string, e.g. "2.0.0"')
    named = raw.get("tenant")
    if named is not None and (not isinstance(named, str) or (tenant and named != tenant)):
        raise CaseFileError(
            f"{where}.tenant: expected a tenant id"
            + (f"; this file's cases are tenant {tenant!r}'s" if tenant else "")
        )
    return ServiceTestCase(
        service=service,
        name=name,
        persona=persona,
        answers=_mapping(raw.get("answers"), f"{where}.answers"),
        disputes={k: str(v) for k, v in _mapping(raw.get("disputes"), where).items()},
        remark=str(remark) if remark is not None else None,
        reference_date=day,
        expect=Expectation(
            outcome=outcome,
            amounts={
                k: _decimal(v, f"{where}.expect.amounts.{k}")
                for k, v in _mapping(expect.get("amounts"), where).items()
            },
            categories={k: str(v) for k, v in _mapping(expect.get("categories"), where).items()},
            referral_reasons=tuple(reasons) if reasons is not None else None,
            prefill=states,
            missing=tuple(str(m) for m in missing) if isinstance(missing, list) else None,
            invalid=tuple(str(i) for i in expect.get("invalid") or ()),
        ),
        file=file,
        line=line,
        version=str(version) if version is not None else None,
        tenant=named or tenant,
    )


def load_cases(service: str, folder: Path) -> list[ServiceTestCase]:
    """Every case in a service folder's tests/*.yaml, in file and list order; the first
    broken file or case raises CaseFileError."""
    cases, broken = read_cases(service, folder)
    if broken:
        raise CaseFileError(broken[0].message)
    return cases


@dataclass(frozen=True)
class BrokenCase:
    """A test file or case that cannot be read, with where it is and what to fix."""

    file: Path
    line: int
    message: str


def read_cases(service: str, folder: Path) -> tuple[list[ServiceTestCase], list[BrokenCase]]:
    """Every case that parses, and each file or case that does not: one broken case must not
    keep the others from running."""
    cases: list[ServiceTestCase] = []
    broken: list[BrokenCase] = []
    for file in sorted((folder / "tests").glob("*.yaml")):
        read, unreadable = read_case_file(service, file)
        cases += read
        broken += unreadable
    return cases, broken


def read_case_file(
    service: str, file: Path, tenant: str | None = None
) -> tuple[list[ServiceTestCase], list[BrokenCase]]:
    """The cases of one test file; with a tenant, each case tests that tenant's activation."""
    cases: list[ServiceTestCase] = []
    broken: list[BrokenCase] = []
    try:
        text = file.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
        lines = _case_lines(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [], [BrokenCase(file, 0, f"{file}: invalid YAML: {exc}")]
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        return [], [BrokenCase(file, 0, f"{file}: expected a top-level 'cases:' list")]
    for index, raw in enumerate(document["cases"]):
        line = lines[index] if index < len(lines) else 0
        try:
            cases.append(_parse_case(service, raw, file, index, line, tenant))
        except CaseFileError as exc:
            broken.append(BrokenCase(file, line, str(exc)))
    return cases, broken


def _case_lines(text: str) -> list[int]:
    """The line each entry of the top-level `cases:` list starts on."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "cases" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


class SandboxPrefill:
    """The real connectors against a fresh in-process sandbox, shared by every case of a run."""

    def __init__(self, connectors: ConnectorRegistry) -> None:
        self.connectors = connectors
        self.configs = registry_configs(
            connectors, default_base_url=_SANDBOX_URL, default_timeout_s=10.0
        )
        self._app = build_registries_app(population=LazyPopulation())
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self._app), base_url=_SANDBOX_URL
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


def unsaved_case(
    definition: ServiceDefinition,
    persona: Persona,
    reference: str,
    data: dict[str, Any],
    decision: dict[str, Any],
    outcome: str,
    day: date,
) -> Case:
    """A case as the worker would hold it, never stored: for rendering a test's or a
    preview's documents with the persona as addressee."""
    return Case(
        reference=reference,
        application_id=reference.lower(),
        service=definition.id,
        service_version=definition.version,
        department=definition.department,
        citizen_sub=persona.sub,
        reference_date=day,
        data={**data, "addressee": {"name": f"{persona.given_name} {persona.family_name}"}},
        decision=decision,
        outcome=outcome,
        submitted_at=datetime.now(UTC),
    )


DocumentCheck = Callable[[ServiceDefinition, Path, Case], list[str]]
"""Renders a decided case's documents and returns what failed (notices.issue.render_problems)."""


async def run_case(
    definition: ServiceDefinition,
    case: ServiceTestCase,
    sandbox: SandboxPrefill,
    check_documents: DocumentCheck | None = None,
    folder: Path | None = None,
) -> CaseResult:
    """Prefill for the persona, apply the answers, decide, and compare with the expectation;
    with a document check, also render the documents the decision issues."""
    persona = persona_by_id(case.persona)
    assert persona is not None  # checked when the case was loaded
    expect = case.expect
    diffs: list[str] = []

    def result(outcome: str, **extra: Any) -> CaseResult:
        if outcome != expect.outcome:
            diffs.insert(0, f"outcome: expected {expect.outcome}, got {outcome}")
        return CaseResult(case, outcome, diffs, **extra)

    if TRUST_ORDER.get(persona.trust_level, 0) < TRUST_ORDER[definition.trust_level]:
        return result("forbidden")
    needs = data_needs(definition)
    claims = {"sub": persona.sub}
    if persona.idnr:
        claims["idnr"] = persona.idnr
    outcome = await prefill(
        needs,
        identity_claims=claims,
        service=definition.id,
        application_id=None,
        actor="integrator-test",
        registry=sandbox.connectors,
        configs=sandbox.configs,
        client=sandbox.client,
        declared={(n.connector, n.attribute) for n in needs},
    )
    application = Application(
        service=definition.id, service_version=definition.version, citizen_sub=persona.sub
    )
    application.prefill = {k: r.model_dump(mode="json") for k, r in outcome.results.items()}
    for key, state in expect.prefill.items():
        got = application.prefill.get(key, {}).get("status")
        if got != state:
            diffs.append(f"prefill.{key}: expected {state}, got {_fmt(got)}")
    by_id = {f.id: f for f in definition.fields}
    held = {k for k, e in application.prefill.items() if e.get("status") == "ok"}
    for fid, raw in case.answers.items():
        if fid not in by_id:
            diffs.append(f"answers.{fid}: the service has no such field")
        elif fid in held:
            diffs.append(f"answers.{fid}: held by a register; the portal refuses an answer")
        elif by_id[fid].type == "file":
            if not isinstance(raw, str) or not raw:
                diffs.append(f"answers.{fid}: give a file name for an upload")
            else:
                application.answers[fid] = {"name": raw}
        else:
            if isinstance(raw, date):
                raw = raw.isoformat()  # unquoted in YAML; the portal receives the same text
            allowed = allowed_answers(by_id[fid], application.prefill)
            # Date bounds count from the case's reference date, as from the day of entry.
            value, problem = coerce(by_id[fid], raw, allowed, today=case.reference_date)
            if problem is not None and fid not in expect.invalid:
                diffs.append(f"answers.{fid}: {problem.en}")
            elif problem is None and fid in expect.invalid:
                diffs.append(f"answers.{fid}: expected the portal to refuse {raw!r}, it accepts it")
            elif value is not None:
                application.answers[fid] = value
    for fid in case.disputes:
        if fid not in held:
            diffs.append(f"disputes.{fid}: only values from a register can be disputed")
    missing = [p.field for p in missing_required(definition, application)]
    if missing:
        if expect.missing is not None and sorted(expect.missing) != sorted(missing):
            diffs.append(f"missing: expected {sorted(expect.missing)}, got {sorted(missing)}")
        if expect.outcome != "incomplete":
            diffs.append(f"missing required answers: {', '.join(missing)}")
        return result("incomplete")
    if definition.processing == "external":
        # The Fachverfahren decides; the platform's part is a complete, deliverable submission.
        return result("handed_over")
    # The case data as submission records it, decided as the worker decides it.
    application.disputes = {fid: str(text) for fid, text in case.disputes.items()}
    application.remark = case.remark
    day = case.reference_date or local_today()
    # The QA sample picks a share of cases at random (by case id hash); a test case describes
    # what rules and policy decide, so it is decided outside the sample unless it names it.
    sampled = "qa_sample" in (expect.referral_reasons or ())
    record = intake_record(application)
    decision = decide_case(
        definition, record, f"test:{case.service}:{case.name}", day, qa_sample=sampled
    )
    if check_documents is not None and folder is not None:
        decided = unsaved_case(
            definition, persona, "TEST", record, decision.to_json(), decision.outcome, day
        )
        diffs += check_documents(definition, folder, decided)
    for name, amount in expect.amounts.items():
        got_amount = decision.amounts.get(name)
        if got_amount is None or got_amount != amount:
            diffs.append(f"amounts.{name}: expected {amount}, got {_fmt(got_amount)}")
    for name, text in expect.categories.items():
        got_text = decision.categories.get(name)
        if got_text != text:
            diffs.append(f"categories.{name}: expected {text!r}, got {_fmt(got_text)!r}")
    wanted = expect.referral_reasons
    if wanted is None and expect.outcome in ("approved", "rejected"):
        wanted = ()
    if wanted is not None and sorted(wanted) != sorted(decision.referral_reasons):
        diffs.append(
            f"referral_reasons: expected {sorted(wanted)}, got {sorted(decision.referral_reasons)}"
        )
    if diffs or decision.outcome != expect.outcome:
        # The reasons explain most failures at once (which rule said what).
        for reason in decision.reasons:
            diffs.append(f"  reason {reason.rule_id} [{reason.outcome_effect}]: {reason.text.de}")
    return result(
        decision.outcome,
        amounts=dict(decision.amounts),
        referral_reasons=list(decision.referral_reasons),
    )


@dataclass(frozen=True)
class TenantTests:
    """One tenant's services as it activated them, and the folder of its own test files."""

    catalogue: Catalogue
    tests: Path
    """tenants/<id>/tests: one <service>.yaml per activated service."""


async def run_service_tests(
    catalogue: Catalogue,
    connectors: ConnectorRegistry,
    services: Iterable[str],
    check_documents: DocumentCheck | None = None,
    *,
    tenants: Mapping[str, TenantTests] | None = None,
    only_tenant: str | None = None,
) -> list[CaseResult]:
    """Run every case of the named services against one fresh sandbox: the templates' own
    cases and each tenant's (a case naming a tenant runs against that tenant's activation);
    with only_tenant, just the cases of that tenant."""
    tenants = tenants or {}
    sandbox = SandboxPrefill(connectors)
    results: list[CaseResult] = []
    try:
        for slug in services:
            folder = catalogue.folder(slug)
            cases, broken = read_cases(slug, folder)
            for tenant_id, tenant in sorted(tenants.items()):
                file = tenant.tests / f"{slug}.yaml"
                if file.is_file():
                    more, unreadable = read_case_file(slug, file, tenant_id)
                    cases += more
                    broken += unreadable
            if only_tenant is not None:
                cases = [case for case in cases if case.tenant == only_tenant]
                broken = [b for b in broken if _in_tenant_file(b.file, tenants.get(only_tenant))]
            results += [_broken_result(slug, problem) for problem in broken]
            for case in cases:
                results.append(
                    await _run_one(case, slug, catalogue, tenants, sandbox, check_documents)
                )
    finally:
        await sandbox.aclose()
    return results


def _in_tenant_file(file: Path, tenant: TenantTests | None) -> bool:
    return tenant is not None and file.parent == tenant.tests


async def _run_one(
    case: ServiceTestCase,
    slug: str,
    catalogue: Catalogue,
    tenants: Mapping[str, TenantTests],
    sandbox: SandboxPrefill,
    check_documents: DocumentCheck | None,
) -> CaseResult:
    """One case against the template, or against the activation of the tenant it names."""
    source = catalogue
    if case.tenant is not None:
        tenant = tenants.get(case.tenant)
        if tenant is None:
            known = ", ".join(sorted(tenants)) or "none"
            return CaseResult(
                case, "invalid", [f"tenant: unknown tenant {case.tenant!r} ({known})"]
            )
        if slug not in tenant.catalogue:
            return CaseResult(case, "invalid", [f"tenant: {case.tenant} has not activated {slug}"])
        source = tenant.catalogue
    versions = {d.version: d for d in source.versions(slug)}
    if case.version is not None and case.version not in versions:
        known = ", ".join(versions)
        problem = f"version: {slug} has no version {case.version!r} (versions: {known})"
        return CaseResult(case, "invalid", [problem])
    if case.version:
        definition = versions[case.version]
    elif case.reference_date is not None:
        # A case dated in the past tests the rules of that day, as a case submitted then was
        # decided: with a newer version (e.g. a designer's draft) it must not fail on validity.
        definition = current_version(list(versions.values()), case.reference_date)
    else:
        definition = source.get(slug)
    return await run_case(definition, case, sandbox, check_documents, catalogue.folder(slug))


def _broken_result(service: str, broken: BrokenCase) -> CaseResult:
    """A case (or file) that could not be read, as a failed result that names the problem."""
    case = ServiceTestCase(
        service=service,
        name="(unreadable)",
        persona="",
        answers={},
        disputes={},
        remark=None,
        reference_date=None,
        expect=Expectation(outcome="-"),
        file=broken.file,
        line=broken.line,
    )
    return CaseResult(case, "invalid", [broken.message])


def run_service_tests_sync(
    catalogue: Catalogue,
    connectors: ConnectorRegistry,
    services: Iterable[str],
    check_documents: DocumentCheck | None = None,
    *,
    tenants: Mapping[str, TenantTests] | None = None,
    only_tenant: str | None = None,
) -> list[CaseResult]:
    """The CLI's entry: one event loop for the whole run."""
    return asyncio.run(
        run_service_tests(
            catalogue,
            connectors,
            list(services),
            check_documents,
            tenants=tenants,
            only_tenant=only_tenant,
        )
    )


def summary_counts(results: Iterable[CaseResult]) -> Mapping[str, int]:
    """Passed and failed cases, for the last line of the report."""
    listed = list(results)
    passed = sum(1 for r in listed if r.passed)
    return {"passed": passed, "failed": len(listed) - passed}
