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
from prefill.health import RegistryHealth

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
    case_id: str | None = None
    actor: str
    outcome: Literal["ok", "empty", "failed"]
    duration_ms: int


class PrefillOutcome(BaseModel):
    """Every need's result, keyed by need key, and the log of the registry reads behind them."""

    results: dict[str, NeedResult]
    accesses: list[RegistryAccess]


_Done = tuple[dict[str, NeedResult], RegistryAccess | None]
"""One read's results by need key, and its access log record (None: nothing was read)."""


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
    case_id: str | None = None,
    health: RegistryHealth | None = None,
) -> PrefillOutcome:
    """Fetch every need, one request per registry and purpose, all registries at once.

    A registry keyed by held data (`Connector.keyed_by`) waits only for the reads that
    deliver its key; everything else runs concurrently on the one shared client.
    """
    _check(needs, registry, set(declared))
    reads = _group(needs)
    results: dict[str, NeedResult] = {}
    tasks_by_connector: dict[str, list[asyncio.Task[_Done]]] = {}

    async def read_keyed(read: _Read) -> _Done:
        connector_class = registry.get(read.connector)
        parts: dict[str, str] | None = None
        if connector_class.keyed_by:
            sources = {connector for connector, _ in connector_class.keyed_by}
            await asyncio.gather(*(t for c in sources for t in tasks_by_connector.get(c, [])))
            parts = _lookup_key(connector_class, needs, results)
            if parts is None:
                return _failed(read, "lookup key not available"), None
        return await _perform(
            read,
            identity_claims=identity_claims,
            identifier_parts=parts,
            service=service,
            application_id=application_id,
            case_id=case_id,
            actor=actor,
            connector_class=connector_class,
            config=configs.get(read.connector),
            client=client,
            health=health,
        )

    async def run(read: _Read) -> _Done:
        done = await read_keyed(read)
        results.update(done[0])
        return done

    # Key sources first, so that every keyed read finds the tasks it waits for.
    ordered = sorted(reads, key=lambda read: bool(registry.get(read.connector).keyed_by))
    tasks: list[asyncio.Task[_Done]] = []
    for read in ordered:
        task = asyncio.ensure_future(run(read))
        tasks_by_connector.setdefault(read.connector, []).append(task)
        tasks.append(task)
    done = await asyncio.gather(*tasks)
    accesses = [access for _, access in done if access is not None]
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
    # Checked against the declaration, not this run: a run asking again for some fields only
    # finds a keyed registry's key missing and marks it failed, it does not crash.
    problems = missing_lookup_keys(declared, registry)
    if problems:
        raise PrefillError("; ".join(message for _, message in problems))


def missing_lookup_keys(
    sources: Collection[tuple[str, str]], registry: ConnectorRegistry
) -> list[tuple[str, str]]:
    """(connector, problem) for registries keyed by held data whose key the service does not
    read itself (data minimisation: prefill never reads a key on its own), or whose key comes
    from a registry keyed by held data in turn. The definition loader reports these too."""
    declared = set(sources)
    problems: list[tuple[str, str]] = []
    for connector_id in sorted({connector for connector, _ in declared}):
        if connector_id not in registry:
            continue
        for key_connector, key_attribute in registry.get(connector_id).keyed_by:
            if (key_connector, key_attribute) not in declared:
                problems.append(
                    (
                        connector_id,
                        f"connector '{connector_id}' is looked up by "
                        f"{key_connector}.{key_attribute}, which the service must read as well",
                    )
                )
            elif key_connector in registry and registry.get(key_connector).keyed_by:
                problems.append(
                    (
                        connector_id,
                        f"connector '{connector_id}' is looked up by '{key_connector}', "
                        "which is itself looked up by held data",
                    )
                )
    return problems


def _lookup_key(
    connector_class: type[Connector], needs: list[DataNeed], results: Mapping[str, NeedResult]
) -> dict[str, str] | None:
    """The key of a registry keyed by held data, from results already read; None if missing."""
    parts: dict[str, str] = {}
    for key_connector, key_attribute in connector_class.keyed_by:
        value = next(
            (
                results[need.key].value
                for need in needs
                if (need.connector, need.attribute) == (key_connector, key_attribute)
                and need.key in results
                and results[need.key].status == "ok"
            ),
            None,
        )
        if value is None:
            return None
        parts[key_attribute] = str(value)
    return parts


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
    identifier_parts: dict[str, str] | None,
    service: str,
    application_id: str | None,
    case_id: str | None,
    actor: str,
    connector_class: type[Connector],
    config: ConnectorConfig | None,
    client: httpx.AsyncClient,
    health: RegistryHealth | None,
) -> _Done:
    """Run one registry read; every failure becomes failed results, never an exception."""
    if identifier_parts is not None:
        identifier = " ".join(identifier_parts.values())
    else:
        identifier = identity_claims.get(connector_class.identifier, "")
    if not identifier:
        return _failed(read, "identifier missing"), None
    if config is None:
        logger.error("prefill: no configuration for registry %s", read.connector)
        return _failed(read, "registry not configured"), None
    if health is not None and not health.allow(read.connector, config):
        # No request goes out, so nothing is read and nothing enters the access log.
        logger.warning("prefill: registry %s skipped, its circuit is open", read.connector)
        return _failed(read, "registry temporarily unavailable (circuit open)"), None

    query = RegistryQuery(
        identifier=identifier,
        identifier_parts=identifier_parts or {},
        attributes=read.attributes,
        purpose=read.purpose,
        legal_basis=read.legal_basis,
        service=service,
        application_id=application_id,
        case_id=case_id,
        actor=actor,
    )
    at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        by_attribute = await connector_class().fetch(client, config, query)
    except asyncio.CancelledError:
        if health is not None:
            health.abandon(read.connector, config)
        raise
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
    if health is not None:
        # Only a read that delivered nothing at all counts against the registry's circuit.
        health.record(read.connector, config, success=statuses != {"failed"})
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
        case_id=case_id,
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
