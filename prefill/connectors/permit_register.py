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
    # The register's field sizes (its entry schema, mirrored by the sandbox); a plate has at
    # most 12 characters (FZV Anlage 4: 3 + 1 + 2 + 1 + 4 + 1).
    write_limits: ClassVar[dict[str, dict[str, int]]] = {
        "ausweis_eintragen": {
            "kennzeichen": 12,
            "bewohnerparkzone": 20,
            "inhaber": 200,
            "anschrift": 300,
            "aktenzeichen": 40,
        },
    }
