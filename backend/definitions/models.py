"""Service definition format v1: the contract an integrator writes in services/<slug>/service.yaml.

Every model forbids unknown keys, so a misspelt key is an error, not a silently ignored line.
Checks within one definition live here; checks against the outside world (connectors,
template files, CEL references) live in the loader.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from backend.rules import MAX_SOURCE_LENGTH
from prefill.connectors.base import TrustLevel

FORMAT_VERSION = 1

# Words CEL reserves: a field named like one could not be written as ``fields.<name>``.
_CEL_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while",
    }
)  # fmt: skip


def _not_reserved(name: str) -> str:
    """Reject names rules could not refer to."""
    if name in _CEL_RESERVED:
        raise ValueError(f"'{name}' is a reserved word in CEL and cannot be used as a name")
    return name


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=63)]
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63),
    AfterValidator(_not_reserved),
]
CelSource = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SOURCE_LENGTH)]
Text = Annotated[str, StringConstraints(min_length=1)]
Number = StrictInt | StrictFloat
ParameterValue = StrictBool | StrictInt | StrictFloat | StrictStr
TableValue = StrictInt | StrictFloat | StrictStr

FieldType = Literal[
    "string", "text", "date", "integer", "decimal", "boolean", "choice", "iban", "email", "file"
]
UploadType = Literal["application/pdf", "image/jpeg", "image/png"]
"""File types a citizen may upload: recognised by their content, never by the file name."""
MAX_UPLOAD_MB = 20
"""Platform limit for one uploaded file; a field may set a lower one."""
DEFAULT_UPLOAD_MB = 10
TEXT_TYPES = ("string", "text", "email", "iban")
"""Field types a citizen types free characters into, and which therefore need a length limit."""
DEFAULT_MAX_LENGTH: dict[str, int] = {"string": 300, "text": 2000, "email": 254, "iban": 42}
"""Characters a text field takes when its definition declares no max_length: no field is
unbounded. Email: RFC 5321 path limit; IBAN: 34 characters plus a space every four."""
Charset = Literal["din91379-a", "din91379-b", "din91379-c", "din91379-d", "din91379-e"]
"""DIN 91379 data types a text field may declare: A names of natural persons, B names of
organisations and addresses, C other text, D person names with Greek, E all (+ Cyrillic, E1)."""
DEFAULT_CHARSET: dict[str, Charset] = {
    "string": "din91379-b",
    "text": "din91379-c",
    "email": "din91379-b",
    "iban": "din91379-b",
}
"""DIN 91379 data type of a text field that declares none: a short string is a name of a
thing or an address part (B), free text may hold line breaks and ½ (C). A person's name must
declare din91379-a. Emoji and other symbols are in no data type, so they are refused everywhere."""
MAX_LENGTH_CEILING: dict[str, int] = {"string": 1000, "text": 10000, "email": 254, "iban": 42}
"""The most a definition may declare per type; above it a value is no longer a form answer."""
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
DEFAULT_TOPIC = "angaben"
"""The page of questions that name no topic; reserved as a topic id."""
Outcome = Literal["approved", "rejected", "referred"]
Rounding = Literal["cents_half_up", "euro_down", "euro_half_up"]
ReferralTrigger = Literal[
    "disputed_data",
    "remark",
    "registry_failure",
    "held_data_missing",
    "rule_referred",
    "threshold",
    "qa_sample",
]

DEFAULT_TRIGGERS: tuple[ReferralTrigger, ...] = (
    "disputed_data",
    "remark",
    "registry_failure",
    "rule_referred",
)

REFER = "refer"
"""The decision-table ``otherwise`` value that sends the case to a person."""


class UndefinedParameter(LookupError):
    """A rule asked for a parameter that has no value on the requested day."""


def _problem(message: str, *at: str | int) -> PydanticCustomError:
    """A validation error that points below the validated node, so the loader finds the line."""
    return PydanticCustomError("definition", message, {"at": at})


def _first_duplicate(values: list[str]) -> tuple[int, int] | None:
    """Index of the first repeated value and of its first occurrence."""
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            return index, seen[value]
        seen[value] = index
    return None


def _check_placeholders(text: LocalizedText, allowed: set[str], *at: str | int) -> None:
    """A placeholder the evaluator does not fill would reach the citizen verbatim."""
    for lang in ("de", "en"):
        for name in re.findall(r"\{([^{}]*)\}", getattr(text, lang)):
            if name not in allowed:
                hint = ", ".join("{" + a + "}" for a in sorted(allowed)) or "none"
                raise _problem(f"unknown placeholder '{{{name}}}' (allowed: {hint})", *at, lang)


class _Strict(BaseModel):
    """Base of every definition model: unknown keys are errors and loaded values do not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(_Strict):
    """Text shown to citizens and clerks, always in German and English."""

    de: Text = pydantic.Field(description="German text (the legally binding version).")
    en: Text = pydantic.Field(description="English text.")

    def get(self, lang: str) -> str:
        """The text in one language, German for anything not English."""
        return self.en if lang == "en" else self.de


class HeldOptions(_Strict):
    """The answers of a choice field taken from a list a registry holds, such as the vehicles
    registered to the citizen: the citizen chooses among their own records instead of typing."""

    field: Identifier = pydantic.Field(
        description="Id of a field with a source whose value is a list of records."
    )
    value: Identifier = pydantic.Field(
        description="Key of each record whose value becomes the answer (e.g. kennzeichen)."
    )
    label: Annotated[StrictStr, StringConstraints(min_length=1, max_length=200)] = pydantic.Field(
        description="What the citizen sees per record: text with {key} placeholders, e.g. "
        "'{kennzeichen} ({marke} {modell})'. Only plain {key} placeholders are allowed."
    )

    @model_validator(mode="after")
    def _plain_placeholders(self) -> HeldOptions:
        """No format-spec tricks: a label is text with plain {key} gaps, nothing else."""
        rest = HELD_LABEL_KEY.sub("", self.label)
        if "{" in rest or "}" in rest:
            raise _problem("only plain {key} placeholders are allowed", "label")
        return self


HELD_LABEL_KEY = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
"""A placeholder in a HeldOptions label: the key of a held record."""


class ChoiceOption(_Strict):
    """One answer of a choice field."""

    value: Annotated[StrictStr, StringConstraints(min_length=1)] = pydantic.Field(
        description="Stored value and the value rules compare against."
    )
    label: LocalizedText = pydantic.Field(description="What the citizen sees.")


class DataSource(_Strict):
    """A registry attribute that fills a field: a declared, purpose-bound data need."""

    connector: Text = pydantic.Field(
        description="Id of the registry connector, e.g. 'melderegister'."
    )
    attribute: Text = pydantic.Field(
        description="Attribute of that connector, e.g. 'anschrift.plz'; must be one it offers."
    )
    purpose: Text = pydantic.Field(description="Why the data is read; logged with every query.")
    legal_basis: Text = pydantic.Field(
        description="Legal basis of the read, e.g. '§ 18 Abs. 1 BMG'."
    )


class Field(_Strict):
    """One value of an application: held by a registry (source) or entered by the citizen."""

    id: Identifier = pydantic.Field(description="Field id, used in rules as fields.<id>.")
    type: FieldType = pydantic.Field(description="Value type; decides input widget and validation.")
    label: LocalizedText = pydantic.Field(description="Label on the form and in the case file.")
    help: LocalizedText | None = pydantic.Field(
        default=None, description="Optional hint shown below the input."
    )
    required: StrictBool = pydantic.Field(description="Whether the application needs a value.")
    correctable: StrictBool = pydantic.Field(
        default=True,
        description="Whether the citizen may report a held value as wrong (refers the case).",
    )
    options: list[ChoiceOption] = pydantic.Field(
        default_factory=list, description="Answers of a 'choice' field; empty for other types."
    )
    options_from: HeldOptions | None = pydantic.Field(
        default=None,
        description="For type 'choice': take the answers from a held list instead of options.",
    )
    source: DataSource | None = pydantic.Field(
        default=None, description="Registry that holds the value; absent if the citizen enters it."
    )
    topic: Identifier | None = pydantic.Field(
        default=None,
        description=(
            "Id of the topic (one portal page) the question belongs to; questions without a "
            "topic share one page."
        ),
    )
    accept: list[UploadType] = pydantic.Field(
        default_factory=list,
        description=(
            "For type 'file': accepted file types (application/pdf, image/jpeg, image/png); "
            "empty means all three."
        ),
    )
    max_size_mb: StrictInt | None = pydantic.Field(
        default=None,
        ge=1,
        le=MAX_UPLOAD_MB,
        description=f"For type 'file': largest file in MB (default {DEFAULT_UPLOAD_MB}).",
    )

    max_length: StrictInt | None = pydantic.Field(
        default=None,
        ge=1,
        le=MAX_LENGTH_CEILING["text"],
        description=(
            "For types string, text, email, iban: most characters accepted (default "
            + ", ".join(f"{kind} {limit}" for kind, limit in DEFAULT_MAX_LENGTH.items())
            + f"; at most string {MAX_LENGTH_CEILING['string']}, text "
            + f"{MAX_LENGTH_CEILING['text']}). A register the field is written back to may "
            "declare a lower limit, which then applies; declaring more than it is an error."
        ),
    )
    min_length: StrictInt | None = pydantic.Field(
        default=None,
        ge=1,
        description="For types string, text, email, iban: fewest characters of an answer.",
    )

    charset: Charset | None = pydantic.Field(
        default=None,
        description=(
            "For types string, text, email, iban: the DIN 91379 data type an answer must keep to "
            "(din91379-a names of natural persons, -b names of organisations and addresses, "
            "-c other text, -d names of persons with Greek, -e all incl. Cyrillic); default "
            + ", ".join(f"{kind} {charset}" for kind, charset in DEFAULT_CHARSET.items())
            + "."
        ),
    )

    @property
    def text_charset(self) -> Charset | None:
        """The DIN 91379 data type an answer is checked against: declared, else the default."""
        if self.type not in TEXT_TYPES:
            return None
        return self.charset or DEFAULT_CHARSET[self.type]

    @property
    def length_limit(self) -> int | None:
        """Most characters the field takes: declared, else the platform default for its type."""
        if self.type not in TEXT_TYPES:
            return None
        return self.max_length or DEFAULT_MAX_LENGTH[self.type]

    @model_validator(mode="after")
    def _length_settings(self) -> Field:
        """Length limits only for typed text, within the platform's ceiling, and satisfiable."""
        for key in ("max_length", "min_length", "charset"):
            if getattr(self, key) is not None and self.type not in TEXT_TYPES:
                allowed = ", ".join(TEXT_TYPES)
                raise _problem(f"{key} is only allowed for types {allowed}", key)
        if self.type not in TEXT_TYPES:
            return self
        ceiling = MAX_LENGTH_CEILING[self.type]
        if self.max_length is not None and self.max_length > ceiling:
            raise _problem(f"a {self.type} field takes at most {ceiling} characters", "max_length")
        limit = self.length_limit
        if self.min_length is not None and limit is not None and self.min_length > limit:
            raise _problem(f"min_length is above the field's max_length ({limit})", "min_length")
        return self

    @property
    def upload_types(self) -> list[str]:
        """The file types a file field takes, in declared order."""
        return list(self.accept) or ["application/pdf", "image/jpeg", "image/png"]

    @property
    def upload_limit_bytes(self) -> int:
        """The largest file a file field takes."""
        return (self.max_size_mb or DEFAULT_UPLOAD_MB) * 1024 * 1024

    @model_validator(mode="after")
    def _upload_settings(self) -> Field:
        """Only a file field takes upload settings, and no registry delivers files."""
        if self.type != "file":
            for key in ("accept", "max_size_mb"):
                if getattr(self, key):
                    raise _problem(f"{key} is only allowed for type 'file'", key)
        elif self.source is not None:
            raise _problem(
                "a file field is uploaded by the citizen and cannot have a source", "source"
            )
        duplicate = _first_duplicate(list(self.accept))
        if duplicate is not None:
            raise _problem("file type listed twice", "accept", duplicate[0])
        return self

    @model_validator(mode="after")
    def _options_match_type(self) -> Field:
        """Options only make sense for choice fields, and a choice needs distinct options."""
        if self.type == "choice" and not self.options and self.options_from is None:
            raise _problem("a choice field needs options or options_from", "options")
        if self.options and self.options_from is not None:
            raise _problem("use either options or options_from, not both", "options_from")
        if self.type != "choice" and self.options_from is not None:
            raise _problem(
                f"options_from is only allowed for type 'choice', not '{self.type}'",
                "options_from",
            )
        if self.type != "choice" and self.options:
            raise _problem(
                f"options are only allowed for type 'choice', not '{self.type}'", "options"
            )
        duplicate = _first_duplicate([option.value for option in self.options])
        if duplicate is not None:
            index, first = duplicate
            raise _problem(
                f"duplicate option value (first at options[{first}])", "options", index, "value"
            )
        return self


class DatedValue(_Strict):
    """A parameter value and the day from which it applies (like OpenFisca parameters)."""

    valid_from: date = pydantic.Field(description="First day on which this value applies.")
    value: ParameterValue = pydantic.Field(
        description="The value: a number, a string or a boolean."
    )
    legal_reference: Text | None = pydantic.Field(
        default=None, description="Where the value is set, e.g. '§ 2 Gebührensatzung'."
    )


class EligibilityRule(_Strict):
    """A condition the application must meet; if it does not, the case is rejected or referred."""

    kind: Literal["eligibility"] = pydantic.Field(description="Rule kind.")
    id: Identifier = pydantic.Field(description="Rule id, unique within the service.")
    legal_reference: Text = pydantic.Field(description="Provision the rule implements.")
    condition: CelSource = pydantic.Field(
        description="CEL expression that must evaluate to a bool."
    )
    otherwise: Literal["reject", "refer"] = pydantic.Field(
        description="What happens when the condition is false: reject, or refer to a clerk."
    )
    reason: LocalizedText = pydantic.Field(description="Reason stated when the condition holds.")
    reason_otherwise: LocalizedText = pydantic.Field(
        description="Reason stated when the condition does not hold."
    )


class CalculationRule(_Strict):
    """Computes an amount (benefit, fee base, days) from fields, parameters and earlier amounts."""

    kind: Literal["calculation"] = pydantic.Field(description="Rule kind.")
    id: Identifier = pydantic.Field(description="Rule id, unique within the service.")
    legal_reference: Text = pydantic.Field(description="Provision the rule implements.")
    output: Identifier = pydantic.Field(description="Name of the amount, used as amounts.<output>.")
    expression: CelSource = pydantic.Field(description="CEL expression returning a number.")
    rounding: Rounding | None = pydantic.Field(
        default=None,
        description=(
            "Rounding of the result: cents_half_up (to 0.01, half up), euro_down (to whole "
            "euros, down), euro_half_up (to whole euros, half up); none keeps the exact result."
        ),
    )
    reason: LocalizedText = pydantic.Field(
        description="Reason stated with the result; '{amount}' is replaced by the amount."
    )

    @model_validator(mode="after")
    def _placeholders(self) -> CalculationRule:
        """Only {amount} is filled in."""
        _check_placeholders(self.reason, {"amount"}, "reason")
        return self


class TableRow(_Strict):
    """One row of a decision table."""

    when: CelSource = pydantic.Field(description="CEL expression that must evaluate to a bool.")
    value: TableValue = pydantic.Field(
        description="Output value when this is the first matching row."
    )
    reason: LocalizedText = pydantic.Field(
        description="Reason stated when this row decides; '{value}' is replaced by the value."
    )

    @model_validator(mode="after")
    def _placeholders(self) -> TableRow:
        """Only {value} is filled in."""
        _check_placeholders(self.reason, {"value"}, "reason")
        return self


class DecisionTableRule(_Strict):
    """Picks a value by the first matching row, e.g. a tariff class or a flat amount."""

    kind: Literal["decision_table"] = pydantic.Field(description="Rule kind.")
    id: Identifier = pydantic.Field(description="Rule id, unique within the service.")
    legal_reference: Text = pydantic.Field(description="Provision the rule implements.")
    output: Identifier = pydantic.Field(description="Name of the result, used as amounts.<output>.")
    rows: list[TableRow] = pydantic.Field(
        min_length=1, description="Rows in order; the first row whose condition holds wins."
    )
    otherwise: TableValue = pydantic.Field(
        default=REFER,
        description="Value when no row matches, or 'refer' to send the case to a clerk.",
    )
    reason_otherwise: LocalizedText = pydantic.Field(
        description="Reason stated when no row matches; '{value}' is replaced by the value."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DecisionTableRule:
        """A table yields either numbers (amounts) or strings (categories), never both."""
        kinds = [isinstance(row.value, str) for row in self.rows]
        if self.otherwise != REFER:
            kinds.append(isinstance(self.otherwise, str))
        for index, is_text in enumerate(kinds):
            if is_text != kinds[0]:
                at: tuple[str | int, ...] = (
                    ("rows", index, "value") if index < len(self.rows) else ("otherwise",)
                )
                raise _problem("all values of a table must be numbers, or all strings", *at)
        _check_placeholders(self.reason_otherwise, {"value"}, "reason_otherwise")
        return self

    @property
    def can_refer(self) -> bool:
        """Whether an unmatched case goes to a clerk."""
        return self.otherwise == REFER


Rule = Annotated[
    EligibilityRule | CalculationRule | DecisionTableRule,
    pydantic.Field(discriminator="kind"),
]


class Fee(_Strict):
    """A fee due when the application is approved, computed into amounts under its id."""

    id: Identifier = pydantic.Field(description="Fee id, also its name in amounts.")
    amount: Number | CelSource = pydantic.Field(
        description="Amount in euros: a number, or a CEL expression (e.g. 'params.gebuehr')."
    )
    legal_reference: Text = pydantic.Field(description="Provision that sets the fee.")
    label: LocalizedText = pydantic.Field(description="What the fee is for, on notice and receipt.")

    @field_validator("amount")
    @classmethod
    def _not_negative(cls, amount: int | float | str) -> int | float | str:
        """A fee is never a payout."""
        if not isinstance(amount, str) and amount < 0:
            raise ValueError("a fee cannot be negative")
        return amount


class Document(_Strict):
    """A PDF rendered for an outcome: the notice, a certificate or a receipt."""

    id: Identifier = pydantic.Field(description="Document id, unique within the service.")
    kind: Literal["notice", "certificate", "receipt"] = pydantic.Field(description="Document kind.")
    template: Text = pydantic.Field(
        description="Jinja2 template relative to the service folder, e.g. 'templates/notice.html'."
    )
    title: LocalizedText = pydantic.Field(description="Document title, e.g. in the mailbox.")
    on: list[Outcome] = pydantic.Field(
        min_length=1, description="Outcomes for which the document is issued."
    )
    certifies_register: Text | None = pydantic.Field(
        default=None,
        description=(
            "Connector id of the register whose content the document certifies, e.g. "
            "'melderegister': it is issued only when every register-filled value of the case was "
            "read from a register or confirmed by a clerk deciding by hand; otherwise the case "
            "goes to a person."
        ),
    )

    @field_validator("template")
    @classmethod
    def _inside_service_folder(cls, template: str) -> str:
        """Templates must live in the service folder, which is what an integrator controls."""
        if template.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", template):
            raise ValueError("the template path must be relative to the service folder")
        if ".." in re.split(r"[\\/]", template):
            raise ValueError("the template path must not leave the service folder")
        return template

    @field_validator("on")
    @classmethod
    def _distinct(cls, on: list[Outcome]) -> list[Outcome]:
        """Listing an outcome twice is a typo."""
        if len(set(on)) != len(on):
            raise ValueError("an outcome is listed twice")
        return on


class Threshold(_Strict):
    """A policy limit: above it a person decides, even where the law would allow automation."""

    output: Identifier = pydantic.Field(description="Amount to watch (rule output or fee id).")
    above: Number = pydantic.Field(description="The case is referred when the amount exceeds this.")


# --- register facts (issue 20): what the rules may only rely on when a register says it ---


class RegisterFact(_Strict):
    """A field whose value the rules rely on as a register states it (income, residence): typed
    instead of read, the machine does not decide unless the law accepts the citizen's word."""

    field: Identifier = pydantic.Field(
        description="Id of a field with a source; its value must come from that register."
    )
    allow_statement: StrictBool = pydantic.Field(
        default=False,
        description=(
            "The law allows deciding on the citizen's own statement when the register holds "
            "nothing (then legal_reference names the provision)."
        ),
    )
    legal_reference: Text | None = pydantic.Field(
        default=None,
        description="Provision that allows deciding on the statement; required with "
        "allow_statement.",
    )

    @model_validator(mode="after")
    def _statement_has_basis(self) -> RegisterFact:
        """Deciding on a statement instead of the register needs a provision that allows it."""
        if self.allow_statement and not self.legal_reference:
            raise _problem("allow_statement needs a legal_reference", "legal_reference")
        if self.legal_reference and not self.allow_statement:
            raise _problem("legal_reference is only used with allow_statement", "legal_reference")
        return self


# --- end of register facts ---


class Automation(_Strict):
    """When the machine may decide alone (§ 35a VwVfG) and what sends a case to a person."""

    register_facts: list[RegisterFact] = pydantic.Field(
        default_factory=list,
        description=(
            "Fields the rules rely on as a register holds them: a value the citizen typed "
            "instead sends the case to a person (referral 'unverified_register_fact')."
        ),
    )

    legal_basis: Text | None = pydantic.Field(
        default=None,
        description=(
            "Legal basis for fully automated decisions, e.g. '§ 35a VwVfG'. Without it every "
            "case is referred to a clerk."
        ),
    )
    referral_triggers: list[ReferralTrigger] = pydantic.Field(
        default_factory=lambda: list(DEFAULT_TRIGGERS),
        description="Events that send a case to a clerk instead of deciding it automatically.",
    )
    thresholds: list[Threshold] = pydantic.Field(
        default_factory=list, description="Amount limits above which a case is referred."
    )
    qa_sample_rate: float = pydantic.Field(
        default=0.0, ge=0.0, le=1.0, description="Share of cases (0..1) referred at random for QA."
    )
    processing_limit_minutes: int = pydantic.Field(
        default=60,
        ge=1,
        le=43_200,
        description=(
            "How long a case may stay in a machine state (submitted, processing, paid but not "
            "yet completed, decided but not yet notified) before the watchdog refers it to the "
            "department as an incident. Waiting for the citizen's payment or for a person does "
            "not count."
        ),
    )
    four_eyes_on_overturn: bool = pydantic.Field(
        default=False,
        description=(
            "A clerk's decision that departs from the machine's (its proposal, or an automated "
            "decision under review or objection) takes effect only after a second person of the "
            "department confirms it (four-eyes principle)."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Automation:
        """Declared triggers and their settings must agree, so the policy reads as it acts."""
        duplicate = _first_duplicate(list(self.referral_triggers))
        if duplicate is not None:
            raise _problem("trigger listed twice", "referral_triggers", duplicate[0])
        triggers = set(self.referral_triggers)
        if self.thresholds and "threshold" not in triggers:
            raise _problem("thresholds need the 'threshold' trigger", "referral_triggers")
        if "threshold" in triggers and not self.thresholds:
            raise _problem(
                "the 'threshold' trigger needs at least one threshold", "referral_triggers"
            )
        if self.qa_sample_rate > 0 and "qa_sample" not in triggers:
            raise _problem("a QA sample rate needs the 'qa_sample' trigger", "referral_triggers")
        if "qa_sample" in triggers and self.qa_sample_rate == 0:
            raise _problem(
                "the 'qa_sample' trigger needs a qa_sample_rate above 0", "qa_sample_rate"
            )
        return self


RecordKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=63)]
WritebackOutcome = Literal["approved", "rejected"]


class Writeback(_Strict):
    """A registry entry written once a case is decided, e.g. a permit entered in its register."""

    connector: Text = pydantic.Field(
        description="Id of a writable registry connector, e.g. 'parkausweisregister'."
    )
    operation: Text = pydantic.Field(
        description="Write operation of that connector, e.g. 'ausweis_eintragen'."
    )
    record: dict[RecordKey, CelSource] = pydantic.Field(
        min_length=1,
        description=(
            "The entry: register field → CEL expression over fields, params, amounts, "
            "reference_date and reference (the case's Aktenzeichen)."
        ),
    )
    on: list[WritebackOutcome] = pydantic.Field(
        min_length=1, description="Outcomes after which the entry is written."
    )
    purpose: Text = pydantic.Field(description="Why the register is written; sent with the write.")
    legal_basis: Text = pydantic.Field(
        description="Legal basis of the transfer to the register, e.g. '§ 45 Abs. 1b StVO'."
    )

    @field_validator("on")
    @classmethod
    def _distinct(cls, on: list[WritebackOutcome]) -> list[WritebackOutcome]:
        """Listing an outcome twice is a typo."""
        if len(set(on)) != len(on):
            raise ValueError("an outcome is listed twice")
        return on


class Handover(_Strict):
    """Where a service processed externally is delivered: a Fachverfahren's FIT-Connect address."""

    destination: Slug = pydantic.Field(
        description="Destination id of the department's Fachverfahren at the submission API."
    )


class LocalizedList(_Strict):
    """Short texts in German and English, e.g. the words citizens search a service by."""

    de: list[Text] = pydantic.Field(default_factory=list, description="German entries.")
    en: list[Text] = pydantic.Field(default_factory=list, description="English entries.")

    def get(self, lang: str) -> list[str]:
        """The entries in one language, German for anything not English."""
        return list(self.en if lang == "en" else self.de)


class Topic(_Strict):
    """A group of questions the portal asks on one page (GOV.UK: one thing per page)."""

    id: Identifier = pydantic.Field(description="Topic id, referred to by fields' 'topic'.")
    title: LocalizedText = pydantic.Field(description="Page heading and task-list entry.")
    description: LocalizedText | None = pydantic.Field(
        default=None, description="Optional explanation shown below the heading."
    )


class Retention(_Strict):
    """How long case data is kept, and why (Art. 5 Abs. 1 lit. e GDPR: storage limitation)."""

    days: StrictInt = pydantic.Field(gt=0, description="Days after the case is closed.")
    legal_basis: Text = pydantic.Field(description="Legal basis of the retention period.")


Regime = Literal[
    "vwgo_vorverfahren", "vwgo_klage", "ao_einspruch", "sgg_widerspruch", "no_administrative_act"
]
"""Which procedural law governs the remedy against the service's decisions."""


class Body(_Strict):
    """An authority or a court as a Rechtsbehelfsbelehrung must name it (§ 58 Abs. 1 VwGO)."""

    name: Text = pydantic.Field(description="Name, e.g. 'Verwaltungsgericht Köln'.")
    at: Text = pydantic.Field(
        description=(
            "The name after 'at' in German, with its article in the dative, e.g. "
            "'beim Verwaltungsgericht Köln' or 'bei der Familienkasse Nordrhein-Westfalen West'."
        )
    )
    address: Text = pydantic.Field(
        description="Postal address on one line, e.g. 'Appellhofplatz, 50667 Köln'."
    )
    electronic: LocalizedText | None = pydantic.Field(
        default=None,
        description=(
            "Electronic channels besides the portal an authority opens (§ 3a VwVfG, "
            "§ 36a SGB I, § 87a AO), e.g. a De-Mail address; courts need none (the "
            "elektronischer Rechtsverkehr is named by law)."
        ),
    )


class Procedure(_Strict):
    """The procedural regime of the service's decisions and who hears a remedy against them."""

    regime: Regime = pydantic.Field(
        description=(
            "vwgo_vorverfahren: Widerspruch (§§ 68, 70 VwGO); vwgo_klage: no Vorverfahren "
            "under Land law, Klage at the Verwaltungsgericht (§ 74 VwGO); ao_einspruch: "
            "Einspruch (§§ 347, 355, 357 AO); sgg_widerspruch: Widerspruch (§§ 78, 84 SGG); "
            "no_administrative_act: the document decides nothing (e.g. a certificate)."
        )
    )
    legal_basis: Text | None = pydantic.Field(
        default=None,
        description=(
            "Why this regime applies, printed where the law that chose it matters, e.g. "
            "'§ 110 Abs. 1 JustG NRW' for vwgo_klage or '§ 13 BEEG' for sgg_widerspruch."
        ),
    )
    authority: Body | None = pydantic.Field(
        default=None,
        description=(
            "Where the Widerspruch or Einspruch is lodged: the issuing authority (§ 70 VwGO, "
            "§ 357 AO, § 84 SGG); required for every regime with one."
        ),
    )
    objection_authority: Body | None = pydantic.Field(
        default=None,
        description=(
            "Widerspruchsbehörde when it is not the issuing authority; lodging there also keeps "
            "the period (§ 70 Abs. 1 Satz 2 VwGO, § 84 Abs. 2 SGG)."
        ),
    )
    court: Body | None = pydantic.Field(
        default=None,
        description=(
            "The competent court: where to sue under vwgo_klage (required), otherwise the court "
            "of the later Klage (Verwaltungs-, Sozial- or Finanzgericht)."
        ),
    )

    @model_validator(mode="after")
    def _bodies_fit_regime(self) -> Procedure:
        """Each regime names the body the citizen must turn to; nothing it cannot use."""
        lodged_at_authority = ("vwgo_vorverfahren", "ao_einspruch", "sgg_widerspruch")
        if self.regime in lodged_at_authority and self.authority is None:
            raise _problem(
                f"{self.regime} needs the authority the remedy is lodged at", "authority"
            )
        if self.regime == "vwgo_klage" and self.court is None:
            raise _problem("vwgo_klage needs the competent court", "court")
        without_objection_authority = ("vwgo_klage", "ao_einspruch", "no_administrative_act")
        if self.regime in without_objection_authority and self.objection_authority is not None:
            raise _problem(f"{self.regime} has no Widerspruchsbehörde", "objection_authority")
        if self.regime == "no_administrative_act" and self.court is not None:
            raise _problem("no_administrative_act names no court", "court")
        return self


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
    fields: list[Field] = pydantic.Field(description="The application's fields, in form order.")
    parameters: dict[Identifier, list[DatedValue]] = pydantic.Field(
        default_factory=dict,
        description="Dated parameters by name, used in rules as params.<name>.",
    )
    rules: list[Rule] = pydantic.Field(
        default_factory=list, description="Rules, evaluated in order (discriminated by 'kind')."
    )
    fees: list[Fee] = pydantic.Field(default_factory=list, description="Fees due on approval.")
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


def _value_kind(value: object) -> str:
    """Parameter value kinds that may not be mixed over time."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def yaml_path(at: tuple[str | int, ...]) -> str:
    """A location tuple as the YAML path integrators read, e.g. rules[2].output."""
    text = ""
    for part in at:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(root)"


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema of service.yaml, for editors and the integrator documentation."""
    schema = ServiceDefinition.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Knopfdruck service definition v{FORMAT_VERSION}",
        **{key: value for key, value in schema.items() if key != "title"},
    }
