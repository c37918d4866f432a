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
    # The register's field sizes (its entry schema, mirrored by the sandbox): a dog's name fits
    # the 60 characters the tax tag record keeps; names and addresses as in the tax ledger.
    write_limits: ClassVar[dict[str, dict[str, int]]] = {
        "hund_anmelden": {
            "halter": 200,
            "anschrift": 300,
            "hundename": 60,
            "rasse": 100,
            "aktenzeichen": 40,
        },
    }
