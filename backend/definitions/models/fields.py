"""What the form asks: fields, their types, options, limits and input rules, and topics."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

import pydantic
from pydantic import (
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from backend.definitions.constraints import (
    COORDINATE_RANGE,
    DAY_BOUND_SYNTAX,
    DayBound,
    local_today,
    parse_day_bound,
    pattern_problem,
)
from backend.definitions.models.base import Identifier, Number, _first_duplicate, _problem, _Strict
from backend.domain.language import LocalizedText, Text

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
DEFAULT_TOPIC = "angaben"
"""The page of questions that name no topic; reserved as a topic id."""


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


DayBoundText = StrictStr | date
"""A day bound as written: see backend/definitions/constraints.py for the syntax."""


class Pattern(_Strict):
    """The form a text answer must have, and how the citizen is told it."""

    regex: Annotated[StrictStr, StringConstraints(min_length=1)] = pydantic.Field(
        description="Regular expression the whole answer must match, e.g. '[0-9]{5}'; at most "
        "200 characters, without lookaround, backreferences or nested repetition like (a+)+."
    )
    description: LocalizedText = pydantic.Field(
        description="The expected form in words, e.g. 'fünf Ziffern, zum Beispiel 50667'."
    )

    @field_validator("regex")
    @classmethod
    def _safe(cls, regex: str) -> str:
        """Refused at load: an invalid pattern, or one whose matching time can explode."""
        problem = pattern_problem(regex)
        if problem is not None:
            raise ValueError(problem)
        return regex


class OneOf(_Strict):
    """Groups of a topic's fields of which the citizen must complete at least one, e.g. an
    address or coordinates; a group begun must be completed."""

    groups: list[list[Identifier]] = pydantic.Field(
        min_length=2,
        description="Groups of field ids of this topic; each group is complete when all its "
        "fields are answered.",
    )
    message: LocalizedText = pydantic.Field(
        description="What to give when no group is complete, e.g. 'Geben Sie eine Anschrift "
        "oder die Koordinaten an.'"
    )


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

    # --- input rules (issue 21, item 4): checked by validate, enforced at intake ---
    min: Number | None = pydantic.Field(
        default=None,
        description="For types integer, decimal: the smallest answer accepted (inclusive).",
    )
    max: Number | None = pydantic.Field(
        default=None,
        description="For types integer, decimal: the largest answer accepted (inclusive).",
    )
    coordinate: Literal["latitude", "longitude"] | None = pydantic.Field(
        default=None,
        description=(
            "For type decimal: the answer is a WGS 84 latitude (-90..90) or longitude "
            "(-180..180); min and max may narrow it to the authority's area (a bounding box)."
        ),
    )
    not_before: DayBoundText | None = pydantic.Field(
        default=None,
        description=f"For type date: the earliest day accepted: {DAY_BOUND_SYNTAX}, "
        "e.g. 'today-10y'. 'today' is the day of entry in Germany.",
    )
    not_after: DayBoundText | None = pydantic.Field(
        default=None,
        description=f"For type date: the latest day accepted: {DAY_BOUND_SYNTAX}, "
        "e.g. 'today' (not in the future) or 'today+1y'.",
    )
    pattern: Pattern | None = pydantic.Field(
        default=None,
        description="For types string, text: a regular expression the whole answer must match, "
        "with a description of the form for the citizen.",
    )
    range_reason: LocalizedText | None = pydantic.Field(
        default=None,
        description=(
            "Why the range of min/max, coordinate or not_before/not_after holds; added to the "
            "message when an answer lies outside it, e.g. 'Nur Orte im Stadtgebiet.'"
        ),
    )

    @property
    def lowest(self) -> int | float | None:
        """The smallest number accepted: declared, else the coordinate's range."""
        if self.min is not None:
            return self.min
        return COORDINATE_RANGE[self.coordinate][0] if self.coordinate else None

    @property
    def highest(self) -> int | float | None:
        """The largest number accepted: declared, else the coordinate's range."""
        if self.max is not None:
            return self.max
        return COORDINATE_RANGE[self.coordinate][1] if self.coordinate else None

    @property
    def earliest(self) -> DayBound | None:
        """The not_before bound, parsed (the validator guarantees it parses)."""
        return parse_day_bound(self.not_before) if self.not_before is not None else None

    @property
    def latest(self) -> DayBound | None:
        """The not_after bound, parsed."""
        return parse_day_bound(self.not_after) if self.not_after is not None else None

    @field_validator("not_before", "not_after")
    @classmethod
    def _day_bound(cls, value: str | date | None) -> str | date | None:
        """A bound the intake could not read would fail only when a citizen types a date."""
        if value is not None:
            parse_day_bound(value)
        return value

    @model_validator(mode="after")
    def _input_rules(self) -> Field:
        """Each rule fits the field's type, and its range is not empty."""
        allowed = {
            "min": ("integer", "decimal"),
            "max": ("integer", "decimal"),
            "coordinate": ("decimal",),
            "not_before": ("date",),
            "not_after": ("date",),
            "pattern": ("string", "text"),
        }
        for key, types in allowed.items():
            if getattr(self, key) is not None and self.type not in types:
                raise _problem(f"{key} is only allowed for types {', '.join(types)}", key)
        if self.type == "integer":
            for key in ("min", "max"):
                if isinstance(getattr(self, key), float):
                    raise _problem(f"an integer field takes a whole number as {key}", key)
        if self.coordinate is not None:
            low, high = COORDINATE_RANGE[self.coordinate]
            for key in ("min", "max"):
                bound = getattr(self, key)
                if bound is not None and not low <= bound <= high:
                    raise _problem(f"a {self.coordinate} lies between {low} and {high}", key)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _problem(f"min ({self.min}) is above max ({self.max})", "min")
        earliest, latest = self.earliest, self.latest
        # Judged on the day of validation: two relative bounds keep their order every day; a
        # fixed bound against a relative one may cross it later, which validate then finds.
        if earliest and latest and earliest.on(local_today()) > latest.on(local_today()):
            raise _problem(
                f"not_before ({self.not_before}) is after not_after ({self.not_after})",
                "not_before",
            )
        ranged = (self.min, self.max, self.coordinate, self.not_before, self.not_after)
        if self.range_reason is not None and all(rule is None for rule in ranged):
            raise _problem(
                "range_reason explains min/max, coordinate or not_before/not_after; "
                "the field declares none",
                "range_reason",
            )
        return self

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


class Topic(_Strict):
    """A group of questions the portal asks on one page (GOV.UK: one thing per page)."""

    id: Identifier = pydantic.Field(description="Topic id, referred to by fields' 'topic'.")
    title: LocalizedText = pydantic.Field(description="Page heading and task-list entry.")
    description: LocalizedText | None = pydantic.Field(
        default=None, description="Optional explanation shown below the heading."
    )
    one_of: OneOf | None = pydantic.Field(
        default=None,
        description="Groups of this topic's optional fields of which one must be completed.",
    )
