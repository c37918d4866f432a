"""The contract every registry connector fulfils, and the values prefill returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, Field, SecretStr

AttributeType = Literal["string", "date", "integer", "decimal", "boolean", "object", "list"]
TrustLevel = Literal["niedrig", "substanziell", "hoch"]
TRUST_ORDER: dict[str, int] = {"niedrig": 1, "substanziell": 2, "hoch": 3}


class AttributeSpec(BaseModel):
    """One attribute a registry can deliver; the definition loader checks data needs against it."""

    name: str
    type: AttributeType
    description: str = ""


class ConnectorConfig(BaseModel):
    """Per-registry configuration; passed in, never stored on the connector."""

    base_url: str
    timeout_s: float = Field(5.0, gt=0, description="Time one attempt may take.")
    retries: int = Field(2, ge=0, le=5)
    backoff_s: float = Field(
        0.1, ge=0, description="Wait before the first retry; doubles with every further one."
    )
    deadline_s: float | None = Field(
        None,
        gt=0,
        description="Time one read may take, retries included. None: twice timeout_s, so a "
        "slow registry costs the citizen a bounded wait, not (retries + 1) timeouts.",
    )
    auth_headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Credentials sent with every request (never logged)."
    )
    circuit_failures: int = Field(
        5, ge=1, description="Failed reads in a row after which the circuit opens."
    )
    circuit_open_s: float = Field(
        30.0, gt=0, description="How long an open circuit refuses reads before one probe."
    )

    @property
    def read_deadline_s(self) -> float:
        return self.deadline_s if self.deadline_s is not None else 2 * self.timeout_s


class RegistryQuery(BaseModel):
    """One purpose-bound read: who asks, for which service and case, on which legal basis."""

    identifier: str
    attributes: list[str]
    purpose: str
    legal_basis: str
    service: str
    application_id: str | None = None
    case_id: str | None = None
    actor: str = "citizen"
    identifier_parts: dict[str, str] = Field(default_factory=dict)
    """For registries keyed by held data (see Connector.keyed_by): attribute → value."""


class Provenance(BaseModel):
    """Where a held value came from; travels with the value into case, notice and audit."""

    registry: str
    registry_title: str = ""
    record_id: str | None = None
    as_of: datetime


NOT_HELD = "not held"
"""The reason of an empty result when the register answered for the citizen's record and holds
no value: an answer ("no zone"), unlike an unknown person or an ambiguous record."""


class NeedResult(BaseModel):
    """The outcome for one attribute: ok (value and provenance), empty, or failed (reason)."""

    attribute: str
    status: Literal["ok", "empty", "failed"]
    value: Any = None
    provenance: Provenance | None = None
    reason: str | None = None
    blocked: bool = False
    """The register holds an information block on this value (Auskunftssperre, § 51 BMG):
    withheld (status failed) from a read for a third party, or delivered (status ok) to a read
    for the person herself, which must not pass it on. Never "unreachable"."""


class Connector(ABC):
    """A stateless adapter to one registry. Config and HTTP client are passed in per call."""

    id: ClassVar[str]
    title: ClassVar[str]
    identifier: ClassVar[str]
    """Which citizen identifier the registry is keyed by (an ID-token claim, e.g. ``idnr``)."""
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    keyed_by: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(connector, attribute) pairs a registry keyed by held data is looked up with, e.g.
    Geodaten by the Melderegister address; prefill reads those first. Empty: keyed by a claim."""

    @classmethod
    @abstractmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""

    @abstractmethod
    async def fetch(
        self, client: httpx.AsyncClient, config: ConnectorConfig, query: RegistryQuery
    ) -> dict[str, NeedResult]:
        """Read the requested attributes; every requested attribute gets a result."""


class WriteRequest(BaseModel):
    """One write-back to a registry (e.g. a permit entered), idempotent by its key."""

    idempotency_key: str
    """Per case and step, e.g. ``case-<id>:writeback``; the registry stores a key only once."""
    operation: str
    record: dict[str, Any]
    purpose: str
    legal_basis: str
    service: str
    case_id: str
    actor: str = "system"
    provenance: dict[str, str] = Field(default_factory=dict)
    """Record key → where its value comes from (register, citizen, clerk), for the register's
    own record of what it was told on whose word."""


class CancelRequest(BaseModel):
    """Cancel an entry whose decision was withdrawn or changed; idempotent by its key."""

    idempotency_key: str
    operation: str
    """The operation that wrote the entry (it names the register's collection)."""
    record_id: str
    reason: str
    purpose: str
    legal_basis: str
    service: str
    case_id: str
    actor: str = "system"


class WriteResult(BaseModel):
    """written: stored now; duplicate: the key was stored before (a retry); failed: with reason."""

    status: Literal["written", "duplicate", "failed"]
    record_id: str | None = None
    reason: str | None = None
    retryable: bool = False


class WritableConnector(Connector):
    """A connector whose registry also accepts writes from an approved case."""

    write_operations: ClassVar[tuple[str, ...]] = ()
    write_limits: ClassVar[dict[str, dict[str, int]]] = {}
    """Operation → record key → most characters the register stores there, as its interface
    documents; the definition loader makes these the limits of fields copied into those keys,
    so an over-long answer is refused at intake, not by the register after the decision."""

    @classmethod
    def write_limit(cls, operation: str, key: str) -> int | None:
        """The register's length limit of one written attribute, if it declares one."""
        return cls.write_limits.get(operation, {}).get(key)

    @abstractmethod
    async def write(
        self, client: httpx.AsyncClient, config: ConnectorConfig, request: WriteRequest
    ) -> WriteResult:
        """Send one idempotent write; never raises for registry errors, returns failed instead."""

    @abstractmethod
    async def cancel(
        self, client: httpx.AsyncClient, config: ConnectorConfig, request: CancelRequest
    ) -> WriteResult:
        """Cancel one entry (its decision changed); never raises, returns failed instead."""
