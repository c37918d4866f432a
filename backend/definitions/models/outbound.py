"""What leaves Knopfdruck for other systems: register entries and the Fachverfahren handover."""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
from pydantic import StringConstraints, field_validator

from backend.definitions.models.base import CelSource, Slug, _Strict
from backend.domain.language import Text

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
