"""Sandbox register of residents' parking permits (Bewohnerparkausweise, § 45 Abs. 1b StVO)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sandbox.registries.writable_register import build_writable_register_router

# Kfz-Kennzeichen (FZV Anlage 4): district code, 1–2 letters, 1–4 digits, optional E/H.
KENNZEICHEN = r"^[A-ZÄÖÜ]{1,3}-[A-Z]{1,2} [1-9][0-9]{0,3}[EH]?$"


class Parkausweis(BaseModel):
    """A permit as the Straßenverkehrsbehörde enters it; enforcement reads it by plate."""

    model_config = ConfigDict(extra="forbid")

    kennzeichen: str = Field(pattern=KENNZEICHEN, max_length=12)
    bewohnerparkzone: str = Field(min_length=1, max_length=20)
    inhaber: str = Field(min_length=1, max_length=200)
    anschrift: str = Field(min_length=1, max_length=300)
    gueltig_ab: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    laufzeit_monate: int = Field(ge=1, le=24)
    aktenzeichen: str = Field(min_length=1, max_length=40)


def _ausweisnummer(sequence: int, _entry: BaseModel) -> str:
    return f"BPA-{datetime.now(UTC).year}-{sequence:06d}"


def build_permit_register_router() -> APIRouter:
    """A fresh permit register; each app (and each test) gets its own entries."""
    return build_writable_register_router(
        prefix="/parkausweisregister/v1",
        tag="Parkausweisregister",
        operations={"ausweis_eintragen": ("/ausweise", Parkausweis)},
        new_record_id=_ausweisnummer,
    )
