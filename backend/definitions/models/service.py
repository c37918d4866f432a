"""The whole service definition: ties fields, rules, fees, documents and policy together."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic
from pydantic import StrictInt, StringConstraints, model_validator

from backend.definitions.models.base import (
    Identifier,
    LocalizedList,
    Slug,
    _first_duplicate,
    _problem,
    _Strict,
    yaml_path,
)
from backend.definitions.models.documents import Document
from backend.definitions.models.fees import Fee, Levy
from backend.definitions.models.fields import DEFAULT_TOPIC, Field, Topic
from backend.definitions.models.local import Local
from backend.definitions.models.outbound import Handover, Writeback
from backend.definitions.models.policy import Automation, Retention
from backend.definitions.models.rules import (
    DatedValue,
    DecisionTableRule,
    EligibilityRule,
    Rule,
    UndefinedParameter,
    _value_kind,
)
from backend.domain.language import LocalizedText, Text
from backend.domain.remedy import Procedure
from prefill.connectors.base import TrustLevel

if TYPE_CHECKING:
    from prefill.connectors.registry import ConnectorRegistry

FORMAT_VERSION = 1

LifeSituation = Literal[
    "umzug-wohnen",
    "familie-kinder",
    "auto-verkehr",
    "tiere",
    "ausweise-bescheinigungen",
    "arbeit-gewerbe",
    "studium-bildung",
    "geld-leistungen",
]
"""Life situations (Lebenslagen) the portal groups its catalogue by; labels live in the portal."""


DecisionKind = Literal["application", "assessment", "certificate"]
"""What a service's decision does: grants or refuses, assesses (festsetzen), or certifies."""


class ServiceDefinition(_Strict):
    """One e-service: its form, data needs, rules, fees, documents and automation policy."""

    id: Slug = pydantic.Field(description="Service slug; equals the folder name under services/.")
    version: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+-]*$")] = (
        pydantic.Field(description="Version of this definition, e.g. '1.0.0'; quote it in YAML.")
    )
    valid_from: date = pydantic.Field(description="First day of validity (case reference date).")
    valid_until: date | None = pydantic.Field(
        default=None, description="Last day of validity (inclusive); open-ended if absent."
    )
    leika: Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")] = pydantic.Field(
        description="LeiKa key (federal service catalogue), 14 digits; quote it in YAML."
    )
    title: LocalizedText = pydantic.Field(description="Service name in the catalogue.")
    description: LocalizedText = pydantic.Field(description="Short description in the catalogue.")
    department: Slug = pydantic.Field(description="Owning department (Fachbereich), as a slug.")
    authority: Text | None = pydantic.Field(
        default=None,
        description="Issuing authority printed on the service's notices, e.g. 'Familienkasse "
        "NRW-West'; default: the platform's KNOPFDRUCK_AUTHORITY_NAME.",
    )
    trust_level: TrustLevel = pydantic.Field(
        description="eID trust level (Vertrauensniveau) required to apply."
    )
    legal_basis: Text = pydantic.Field(description="Legal basis of the service itself.")
    processing: Literal["automated", "external"] = pydantic.Field(
        default="automated",
        description="automated: decided by Knopfdruck; external: forwarded to a Fachverfahren.",
    )
    approval_effect: Literal["favourable", "burdening"] = pydantic.Field(
        default="favourable",
        description="What an approval does to the citizen: favourable (a permit, a benefit, a "
        "certificate), so taking it back after review or objection needs a hearing and a "
        "Rücknahme or Widerruf (§§ 28, 48, 49 VwVfG); or burdening (a tax assessment), so its "
        "fall is in the citizen's favour and is an ordinary new notice.",
    )
    target_days: int = pydantic.Field(
        default=14,
        ge=1,
        le=365,
        description="Target time to decision in calendar days from submission (the console's "
        "due date per case); time spent waiting on the citizen does not count. Statutory "
        "periods stay separate: after three months the citizen may sue for inaction (§ 75 VwGO).",
    )
    fields: list[Field] = pydantic.Field(description="The application's fields, in form order.")
    parameters: dict[Identifier, list[DatedValue]] = pydantic.Field(
        default_factory=dict,
        description="Dated parameters by name, used in rules as params.<name>.",
    )
    rules: list[Rule] = pydantic.Field(
        default_factory=list, description="Rules, evaluated in order (discriminated by 'kind')."
    )
    fees: list[Fee] = pydantic.Field(default_factory=list, description="Fees due on approval.")
    levies: list[Levy] = pydantic.Field(
        default_factory=list,
        description="Taxes and charges the approving notice assesses, with due dates and account.",
    )
    documents: list[Document] = pydantic.Field(
        default_factory=list, description="Documents rendered for the outcome."
    )
    automation: Automation = pydantic.Field(
        default_factory=Automation, description="Automation policy and referral triggers."
    )
    retention: Retention = pydantic.Field(description="Retention period of case data.")
    keywords: LocalizedList = pydantic.Field(
        default_factory=LocalizedList,
        description="Words citizens search for, e.g. 'Parkausweis', 'Hund', 'Umzug'.",
    )
    life_situations: list[LifeSituation] = pydantic.Field(
        default_factory=list,
        description="Life situations (Lebenslagen) under which the catalogue lists the service.",
    )
    topics: list[Topic] = pydantic.Field(
        default_factory=list,
        description="Question pages of the portal, in order; fields refer to them by 'topic'.",
    )
    typical_duration: LocalizedText | None = pydantic.Field(
        default=None,
        description=(
            "How long a decision usually takes when a person decides, e.g. 'about two weeks'. "
            "Automated services say 'usually within a minute' by themselves."
        ),
    )
    submit_label: LocalizedText | None = pydantic.Field(
        default=None,
        description=(
            "The submit button's words when '<title> beantragen' does not name the action, "
            "e.g. 'Hund anmelden' or 'Meldung absenden'."
        ),
    )
    draft_lifetime_days: StrictInt = pydantic.Field(
        default=30,
        ge=1,
        le=365,
        description="Days an unsent draft is kept after it was last saved; then it is deleted.",
    )
    writeback: list[Writeback] = pydantic.Field(
        default_factory=list,
        description="Registry entries written after the decision, in order (idempotent per case).",
    )
    handover: Handover | None = pydantic.Field(
        default=None, description="Delivery to a Fachverfahren; required for processing: external."
    )
    procedure: Procedure | None = pydantic.Field(
        default=None,
        description=(
            "Procedural regime and the authority or court for the Rechtsbehelfsbelehrung; "
            "required when the service issues a notice (Bescheid)."
        ),
    )
    local: Local | None = pydantic.Field(
        default=None,
        description=(
            "What each tenant sets when it activates this service (EfA overlay, "
            "docs/tenants.md); none: the service cannot be activated by a tenant."
        ),
    )

    @model_validator(mode="after")
    def _processing_consistent(self) -> ServiceDefinition:
        """External processing needs an address; write-backs need Knopfdruck to decide."""
        if self.processing == "external" and self.handover is None:
            raise _problem("processing: external needs a handover destination", "processing")
        if self.processing != "external" and self.handover is not None:
            raise _problem("a handover is only used with processing: external", "handover")
        if self.processing == "external" and self.writeback:
            raise _problem(
                "the Fachverfahren decides external cases, so Knopfdruck writes nothing back",
                "writeback",
            )
        return self

    @property
    def decision_kind(self) -> DecisionKind:
        """How the portal, the mailbox and the notice word the outcome: a tax is festgesetzt, a
        certificate ausgestellt, an application bewilligt or abgelehnt.

        Derived, not declared: a service that levies a tax or charge (``levies``) assesses it
        (§ 155 Abs. 1 AO, § 12 KAG NRW); a certificate that decides nothing (regime
        no_administrative_act) is issued; everything else grants or refuses an application.
        """
        if self.levies:
            return "assessment"
        issues_certificate = any(
            d.kind == "certificate" and "approved" in d.on for d in self.documents
        )
        procedure = self.procedure
        if procedure is not None and procedure.regime == "no_administrative_act":
            return "certificate" if issues_certificate else "application"
        return "application"

    @model_validator(mode="after")
    def _deciding_needs_procedure(self) -> ServiceDefinition:
        """A Bescheid without the right remedy extends the period to a year (§ 58 Abs. 2 VwGO)."""
        notices = [d.id for d in self.documents if d.kind == "notice"]
        if notices and self.procedure is None:
            raise _problem(
                "a service that issues a notice (Bescheid) must declare its procedure: regime "
                "and the authority or court of the Rechtsbehelfsbelehrung",
                "procedure",
            )
        if notices and self.procedure and self.procedure.regime == "no_administrative_act":
            raise _problem(
                "a notice (Bescheid) is an administrative act; choose the regime of its remedy",
                "procedure",
                "regime",
            )
        return self

    @model_validator(mode="after")
    def _levies_consistent(self) -> ServiceDefinition:
        """A levy reads an amount the rules compute, rates that are parameters and a date
        field; anything else would print a notice nobody can pay correctly."""
        outputs = {r.output for r in self.rules if not isinstance(r, EligibilityRule)}
        dates = {f.id for f in self.fields if f.type == "date"}
        for index, levy in enumerate(self.levies):
            if levy.annual_amount not in outputs:
                raise _problem(
                    f"annual_amount '{levy.annual_amount}' is not the output of a calculation",
                    "levies",
                    index,
                    "annual_amount",
                )
            for rate_index, rate in enumerate(levy.rates):
                if rate.parameter not in self.parameters:
                    raise _problem(
                        f"rate parameter '{rate.parameter}' is not among the parameters",
                        "levies",
                        index,
                        "rates",
                        rate_index,
                        "parameter",
                    )
            if levy.due.liable_from_field not in dates:
                raise _problem(
                    f"'{levy.due.liable_from_field}' is not a date field",
                    "levies",
                    index,
                    "due",
                    "liable_from_field",
                )
        if self.levies and not any(
            d.kind == "notice" and "approved" in d.on for d in self.documents
        ):
            raise _problem("a tax or charge is assessed by a notice issued on approval", "levies")
        return self

    @model_validator(mode="after")
    def _topics_consistent(self) -> ServiceDefinition:
        """Every topic a field names exists, and every topic has a question to ask."""
        topic_ids = [topic.id for topic in self.topics]
        duplicate = _first_duplicate(topic_ids)
        if duplicate is not None:
            index, first = duplicate
            raise _problem(
                f"duplicate id '{topic_ids[index]}' (first at topics[{first}])",
                "topics",
                index,
                "id",
            )
        if DEFAULT_TOPIC in topic_ids:
            raise _problem(
                f"'{DEFAULT_TOPIC}' is reserved for questions without a topic",
                "topics",
                topic_ids.index(DEFAULT_TOPIC),
                "id",
            )
        used = {field.topic for field in self.fields if field.topic is not None}
        for index, field in enumerate(self.fields):
            if field.topic is not None and field.topic not in topic_ids:
                known = ", ".join(topic_ids) or "none"
                raise _problem(
                    f"unknown topic '{field.topic}' (topics: {known})", "fields", index, "topic"
                )
        for index, topic_id in enumerate(topic_ids):
            if topic_id not in used:
                raise _problem("no field belongs to this topic", "topics", index, "id")
        return self

    @model_validator(mode="after")
    def _one_of_groups(self) -> ServiceDefinition:
        """Each group names distinct optional fields the citizen answers on that topic's page."""
        by_id = {field.id: field for field in self.fields}
        for t_index, topic in enumerate(self.topics):
            if topic.one_of is None:
                continue
            seen: set[str] = set()
            for g_index, group in enumerate(topic.one_of.groups):
                if not group:
                    raise _problem(
                        "a group needs at least one field", "topics", t_index, "one_of", "groups",
                        g_index,
                    )  # fmt: skip
                for f_index, field_id in enumerate(group):
                    at = ("topics", t_index, "one_of", "groups", g_index, f_index)
                    field = by_id.get(field_id)
                    if field is None:
                        raise _problem(f"unknown field '{field_id}'", *at)
                    if field.topic != topic.id:
                        raise _problem(
                            f"field '{field_id}' is not asked on topic '{topic.id}'", *at
                        )
                    if field.required:
                        raise _problem(
                            f"field '{field_id}' is required anyway; a group lists optional fields",
                            *at,
                        )
                    if field.source is not None:
                        raise _problem(
                            f"field '{field_id}' is held by a register; a group lists what "
                            "the citizen enters",
                            *at,
                        )
                    if field_id in seen:
                        raise _problem(f"field '{field_id}' is listed in two groups", *at)
                    seen.add(field_id)
        return self

    @model_validator(mode="after")
    def _held_options_exist(self) -> ServiceDefinition:
        """options_from names another field of this service that a registry delivers."""
        by_id = {field.id: field for field in self.fields}
        for index, field in enumerate(self.fields):
            if field.options_from is None:
                continue
            target = by_id.get(field.options_from.field)
            if target is None or target is field:
                raise _problem(
                    f"unknown field '{field.options_from.field}'",
                    "fields",
                    index,
                    "options_from",
                    "field",
                )
            if target.source is None:
                raise _problem(
                    f"field '{target.id}' has no source: options_from needs a held list",
                    "fields",
                    index,
                    "options_from",
                    "field",
                )
        return self

    @model_validator(mode="after")
    def _validity(self) -> ServiceDefinition:
        """A definition that ends before it starts can never apply."""
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise _problem("valid_until is before valid_from", "valid_until")
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> ServiceDefinition:
        """Ids name things in rules, audit trails and templates, so each must be unambiguous."""
        for section, ids in (
            ("fields", [field.id for field in self.fields]),
            ("rules", [rule.id for rule in self.rules]),
            ("fees", [fee.id for fee in self.fees]),
            ("documents", [document.id for document in self.documents]),
        ):
            duplicate = _first_duplicate(ids)
            if duplicate is not None:
                index, first = duplicate
                raise _problem(
                    f"duplicate id '{ids[index]}' (first at {section}[{first}])",
                    section,
                    index,
                    "id",
                )
        outputs: list[tuple[str, tuple[str | int, ...]]] = [
            (rule.output, ("rules", index, "output"))
            for index, rule in enumerate(self.rules)
            if not isinstance(rule, EligibilityRule)
        ]
        outputs += [(fee.id, ("fees", index, "id")) for index, fee in enumerate(self.fees)]
        seen: dict[str, tuple[str | int, ...]] = {}
        for name, at in outputs:
            if name in seen:
                raise _problem(
                    f"amount '{name}' is already computed at {yaml_path(seen[name])}", *at
                )
            seen[name] = at
        return self

    @model_validator(mode="after")
    def _parameters_dated(self) -> ServiceDefinition:
        """Dates must ascend and values keep one kind, or 'the value on a day' is ambiguous."""
        for name, values in self.parameters.items():
            if not values:
                raise _problem("a parameter needs at least one dated value", "parameters", name)
            for index in range(1, len(values)):
                if values[index].valid_from <= values[index - 1].valid_from:
                    raise _problem(
                        "valid_from dates must be strictly ascending",
                        "parameters",
                        name,
                        index,
                        "valid_from",
                    )
            kinds = [_value_kind(value.value) for value in values]
            for index, kind in enumerate(kinds):
                if kind != kinds[0]:
                    raise _problem(
                        f"value is a {kind}, but earlier values are a {kinds[0]}",
                        "parameters",
                        name,
                        index,
                        "value",
                    )
        return self

    @model_validator(mode="after")
    def _policy_matches_rules(self) -> ServiceDefinition:
        """The declared triggers must cover what the rules can do, and thresholds must exist."""
        can_refer = any(
            (isinstance(rule, EligibilityRule) and rule.otherwise == "refer")
            or (isinstance(rule, DecisionTableRule) and rule.can_refer)
            for rule in self.rules
        )
        if can_refer and "rule_referred" not in self.automation.referral_triggers:
            raise _problem(
                "rules can refer a case, so 'rule_referred' must be a trigger",
                "automation",
                "referral_triggers",
            )
        known = {fee.id for fee in self.fees} | {
            rule.output for rule in self.rules if not isinstance(rule, EligibilityRule)
        }
        for index, threshold in enumerate(self.automation.thresholds):
            if threshold.output not in known:
                raise _problem(
                    f"no rule or fee computes '{threshold.output}'",
                    "automation",
                    "thresholds",
                    index,
                    "output",
                )
        return self

    @property
    def rule_version(self) -> str:
        """How a decision names the rules it was made under."""
        return f"{self.id}@{self.version} (gültig ab {self.valid_from.isoformat()})"

    def is_valid_on(self, day: date) -> bool:
        """Whether the definition applies to a case with this reference date."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def parameter_value(self, name: str, on: date) -> bool | int | float | str:
        """The value of a parameter valid on a day: the one with the latest valid_from <= day."""
        values = self.parameters.get(name)
        if values is None:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise UndefinedParameter(
                f"service '{self.id}' has no parameter '{name}' (parameters: {known})"
            )
        current = [value for value in values if value.valid_from <= on]
        if not current:
            raise UndefinedParameter(
                f"parameter '{name}' of service '{self.id}' has no value on {on.isoformat()}; "
                f"its first value applies from {values[0].valid_from.isoformat()}"
            )
        return current[-1].value

    def parameters_on(self, on: date) -> dict[str, bool | int | float | str]:
        """Every parameter that has a value on a day; the others are absent."""
        values: dict[str, bool | int | float | str] = {}
        for name in self.parameters:
            try:
                values[name] = self.parameter_value(name, on)
            except UndefinedParameter:
                continue
        return values


def definition_json_schema(connectors: ConnectorRegistry | None = None) -> dict[str, Any]:
    """The JSON Schema of service.yaml, for editors and the integrator documentation.

    Given the connectors, it lists them and each one's attributes and write operations as
    enums, so an editor completes `source.attribute` instead of leaving it to `validate`.
    """
    schema = ServiceDefinition.model_json_schema()
    if connectors is not None:
        _connector_enums(schema["$defs"], connectors)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Knopfdruck service definition v{FORMAT_VERSION}",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def _connector_enums(definitions: dict[str, Any], connectors: ConnectorRegistry) -> None:
    """Connector ids as an enum, and per connector (if/then) its attributes or operations."""
    readers = {name: sorted(connectors.get(name).available_attributes()) for name in connectors}
    writers = {
        name: list(getattr(connectors.get(name), "write_operations", ()))
        for name in connectors
        if getattr(connectors.get(name), "write_operations", ())
    }
    for definition, member, choices in (
        ("DataSource", "attribute", readers),
        ("Writeback", "operation", writers),
    ):
        properties = definitions[definition]["properties"]
        properties["connector"]["enum"] = sorted(choices)
        definitions[definition]["allOf"] = [
            {
                "if": {"properties": {"connector": {"const": name}}, "required": ["connector"]},
                "then": {"properties": {member: {"enum": values}}},
            }
            for name, values in sorted(choices.items())
        ]
