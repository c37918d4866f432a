"""Connector to the residents' parking permit register (Bewohnerparkausweise, § 45 Abs. 1b StVO)."""

from __future__ import annotations

from typing import ClassVar

from prefill.connectors.base import TrustLevel
from prefill.connectors.register_writes import RegisterWriteConnector


class PermitRegisterConnector(RegisterWriteConnector):
    """Enters an approved residents' parking permit, so enforcement sees it at once."""

    id: ClassVar[str] = "parkausweisregister"
    title: ClassVar[str] = "Parkausweisregister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    write_operations: ClassVar[tuple[str, ...]] = ("ausweis_eintragen",)
    write_paths: ClassVar[dict[str, str]] = {
        "ausweis_eintragen": "/parkausweisregister/v1/ausweise",
    }
