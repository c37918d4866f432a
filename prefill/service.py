"""Prefill: reads a service's declared data needs from the registries, concurrently, with a log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Literal

import httpx
from pydantic import BaseModel

from prefill.connectors.base import Connector, ConnectorConfig, NeedResult, RegistryQuery
from prefill.connectors.registry import ConnectorRegistry, UnknownConnector

logger = logging.getLogger(__name__)


class PrefillError(Exception):
    """Prefill was asked for something it must not or cannot read; a programming error."""


class UndeclaredAttribute(PrefillError):
    """A need the service definition does not declare: data minimisation is enforced here."""


class DataNeed(BaseModel):
    """One registry attribute a service reads, for one of its fields, with purpose and law."""

    key: str
    connector: str
    attribute: str
    purpose: str
    legal_basis: str


class RegistryAccess(BaseModel):
    """One registry read as the data cockpit shows it (§ 10 OZG): names and purpose, no values."""

    at: datetime
    registry: str
    attributes_requested: list[str]
    attributes_returned: list[str]
    purpose: str
    legal_basis: str
    service: str
    application_id: str | None
    actor: str
    outcome: Literal["ok", "empty", "failed"]
    duration_ms: int


class PrefillOutcome(BaseModel):
    """Every need's result, keyed by need key, and the log of the registry reads behind them."""

    results: dict[str, NeedResult]
    accesses: list[RegistryAccess]


class _Read(BaseModel):
    """Needs answered by one registry request: same connector, same purpose, same legal basis."""

    connector: str
    purpose: str
    legal_basis: str
    needs: list[DataNeed]

    @property
    def attributes(self) -> list[str]:
        return list(dict.fromkeys(need.attribute for need in self.needs))


async def prefill(
    needs: list[DataNeed],
    *,
    identity_claims: Mapping[str, str],
    service: str,
    application_id: str | None,
    actor: str,
    registry: ConnectorRegistry,
    configs: Mapping[str, ConnectorConfig],
    client: httpx.AsyncClient,
    declared: Collection[tuple[str, str]],
) -> PrefillOutcome:
    """Fetch every need, one request per registry and purpose, all registries at once."""
    _check(needs, registry, set(declared))
    reads = _group(needs)
    done = await asyncio.gather(
        *(
            _perform(
                read,
                identity_claims=identity_claims,
                service=service,
                application_id=application_id,
                actor=actor,
                connector_class=registry.get(read.connector),
                config=configs.get(read.connector),
                client=client,
            )
            for read in reads
        )
    )
    results: dict[str, NeedResult] = {}
    accesses: list[RegistryAccess] = []
    for by_key, access in done:
        results.update(by_key)
        if access is not None:
            accesses.append(access)
    return PrefillOutcome(
        results={need.key: results[need.key] for need in needs}, accesses=accesses
    )


def _check(
    needs: list[DataNeed], registry: ConnectorRegistry, declared: set[tuple[str, str]]
) -> None:
    """Refuse before any registry is contacted, so an undeclared read never happens at all."""
    seen: set[str] = set()
    for need in needs:
        if (need.connector, need.attribute) not in declared:
            raise UndeclaredAttribute(
                f"need {need.key!r} reads {need.connector}.{need.attribute}, "
                "which the service does not declare"
            )
        if need.key in seen:
            raise PrefillError(f"need key {need.key!r} appears twice")
        seen.add(need.key)
        try:
            connector_class = registry.get(need.connector)
        except UnknownConnector:
            raise PrefillError(
                f"need {need.key!r} names unknown connector {need.connector!r}"
            ) from None
        if need.attribute not in connector_class.available_attributes():
            raise PrefillError(
                f"need {need.key!r}: connector {need.connector!r} "
                f"offers no attribute {need.attribute!r}"
            )


def _group(needs: list[DataNeed]) -> list[_Read]:
    """One request per connector; split further only if purposes differ, since a request
    carries exactly one purpose and legal basis and must not claim another need's purpose."""
    reads: dict[tuple[str, str, str], _Read] = {}
    for need in needs:
        group = (need.connector, need.purpose, need.legal_basis)
        if group not in reads:
            reads[group] = _Read(
                connector=need.connector,
                purpose=need.purpose,
                legal_basis=need.legal_basis,
                needs=[],
            )
        reads[group].needs.append(need)
    return list(reads.values())


async def _perform(
    read: _Read,
    *,
    identity_claims: Mapping[str, str],
    service: str,
    application_id: str | None,
    actor: str,
    connector_class: type[Connector],
    config: ConnectorConfig | None,
    client: httpx.AsyncClient,
) -> tuple[dict[str, NeedResult], RegistryAccess | None]:
    """Run one registry read; every failure becomes failed results, never an exception."""
    identifier = identity_claims.get(connector_class.identifier)
    if not identifier:
        return _failed(read, "identifier missing"), None
    if config is None:
        logger.error("prefill: no configuration for registry %s", read.connector)
        return _failed(read, "registry not configured"), None

    query = RegistryQuery(
        identifier=identifier,
        attributes=read.attributes,
        purpose=read.purpose,
        legal_basis=read.legal_basis,
        service=service,
        application_id=application_id,
        actor=actor,
    )
    at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        by_attribute = await connector_class().fetch(client, config, query)
    except Exception as exc:
        # A broken connector must cost the citizen some prefilled fields, not the application.
        logger.exception("prefill: connector %s raised %s", read.connector, type(exc).__name__)
        by_attribute = {
            name: NeedResult(attribute=name, status="failed", reason="connector error")
            for name in read.attributes
        }
    duration_ms = round((time.perf_counter() - started) * 1000)

    results: dict[str, NeedResult] = {}
    for need in read.needs:
        found = by_attribute.get(need.attribute)
        results[need.key] = (
            found.model_copy(deep=True)
            if found is not None
            else NeedResult(
                attribute=need.attribute, status="failed", reason="no result from registry"
            )
        )
    statuses = {results[need.key].status for need in read.needs}
    outcome: Literal["ok", "empty", "failed"] = (
        "failed" if "failed" in statuses else "ok" if "ok" in statuses else "empty"
    )
    if outcome == "failed":
        reasons = sorted({r.reason or "" for r in results.values() if r.status == "failed"})
        logger.warning("prefill: registry %s failed: %s", read.connector, "; ".join(reasons))
    access = RegistryAccess(
        at=at,
        registry=read.connector,
        attributes_requested=read.attributes,
        attributes_returned=sorted(
            {r.attribute for r in results.values() if r.status == "ok"},
            key=read.attributes.index,
        ),
        purpose=read.purpose,
        legal_basis=read.legal_basis,
        service=service,
        application_id=application_id,
        actor=actor,
        outcome=outcome,
        duration_ms=duration_ms,
    )
    return results, access


def _failed(read: _Read, reason: str) -> dict[str, NeedResult]:
    return {
        need.key: NeedResult(attribute=need.attribute, status="failed", reason=reason)
        for need in read.needs
    }
