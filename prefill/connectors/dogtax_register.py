"""Connector to the dog tax register (Hundesteuer, by the municipality's Hundesteuersatzung)."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.base import TrustLevel
from prefill.connectors.register_writes import RegisterWriteConnector


class DogTaxRegisterConnector(RegisterWriteConnector):
    """Registers a dog for the dog tax; the register answers with the tax tag number."""

    id: ClassVar[str] = "hundesteuerregister"
    title: ClassVar[str] = "Hundesteuerregister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    write_operations: ClassVar[tuple[str, ...]] = ("hund_anmelden",)
    write_paths: ClassVar[dict[str, str]] = {
        "hund_anmelden": "/hundesteuerregister/v1/hunde",
    }
