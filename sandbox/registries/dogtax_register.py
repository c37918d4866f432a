"""Sandbox dog tax register (Hundesteuer under the municipality's Hundesteuersatzung)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.registries.writable_register import build_writable_register_router


class Hundeanmeldung(BaseModel):
    """A dog as the Steueramt registers it; the answer is the number of the tax tag."""

    model_config = ConfigDict(extra="forbid")

    halter: str = Field(min_length=1, max_length=200)
    anschrift: str = Field(min_length=1, max_length=300)
    hundename: str = Field(min_length=1, max_length=60)
    rasse: str = Field(min_length=1, max_length=100)
    anmeldedatum: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    jahressteuer: Decimal = Field(ge=0, max_digits=8, decimal_places=2)
    aktenzeichen: str = Field(min_length=1, max_length=40)

    @field_validator("jahressteuer")
    @classmethod
    def _cents(cls, amount: Decimal) -> Decimal:
        """The register keeps euros and cents, whatever number format the sender used."""
        return amount.quantize(Decimal("0.01"))


def _steuermarke(sequence: int, _entry: BaseModel) -> str:
    return f"HSM-{datetime.now(UTC).year}-{sequence:06d}"


def build_dogtax_register_router() -> APIRouter:
    """A fresh dog tax register; each app (and each test) gets its own entries."""
    return build_writable_register_router(
        prefix="/hundesteuerregister/v1",
        tag="Hundesteuerregister",
        operations={"hund_anmelden": ("/hunde", Hundeanmeldung)},
        new_record_id=_steuermarke,
    )
