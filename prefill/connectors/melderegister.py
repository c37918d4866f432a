"""Connector to the Melderegister: one purpose-bound read per call, with provenance per value."""

from __future__ import annotations

import asyncio
import logging
import string
from datetime import date, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from prefill.connectors.base import (
    AttributeSpec,
    AttributeType,
    Connector,
    ConnectorConfig,
    NeedResult,
    Provenance,
    RegistryQuery,
    TrustLevel,
)

logger = logging.getLogger(__name__)

_ATTRIBUTES: tuple[tuple[str, AttributeType, str], ...] = (
    ("familienname", "string", "Familienname"),
    ("vornamen", "string", "Vornamen"),
    ("geburtsname", "string", "Geburtsname"),
    ("geburtsdatum", "date", "Geburtsdatum"),
    ("geburtsort", "string", "Geburtsort"),
    ("anschrift.strasse", "string", "Straße der Hauptwohnung"),
    ("anschrift.hausnummer", "string", "Hausnummer der Hauptwohnung"),
    ("anschrift.plz", "string", "Postleitzahl der Hauptwohnung"),
    ("anschrift.ort", "string", "Ort der Hauptwohnung"),
    ("einzugsdatum", "date", "Einzugsdatum in die Hauptwohnung"),
    ("staatsangehoerigkeit", "string", "Staatsangehörigkeit"),
    ("auskunftssperre", "boolean", "Auskunftssperre nach § 51 BMG"),
)

# HTTP header values are ASCII; legal bases contain "§", so values travel percent-encoded UTF-8.
# Printable ASCII stays as it is so the headers remain readable in logs.
_HEADER_SAFE = "".join(c for c in string.punctuation if c != "%") + " "


def encode_header_value(value: str) -> str:
    """Percent-encode a purpose header value so any UTF-8 text survives HTTP."""
    return quote(value.strip(), safe=_HEADER_SAFE)


class _Antwort(BaseModel):
    """The shape of a successful answer; anything else is a malformed response."""

    record_id: str
    stand: datetime
    behoerde: str
    attribute: dict[str, Any]


class _Failure(Exception):
    """One attempt failed; retryable says whether another attempt could help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class MelderegisterConnector(Connector):
    """Reads name, birth and address data from the residents' register, keyed by idnr."""

    id: ClassVar[str] = "melderegister"
    title: ClassVar[str] = "Melderegister"
    identifier: ClassVar[str] = "idnr"
    min_trust_level: ClassVar[TrustLevel] = "substanziell"
    path: ClassVar[str] = "/melderegister/v1/personen/abfrage"
    backoff_s: ClassVar[float] = 0.1

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Attributes this registry can deliver, by name."""
        return {
            name: AttributeSpec(name=name, type=type_, description=description)
            for name, type_, description in _ATTRIBUTES
        }

    async def fetch(
        self, client: httpx.AsyncClient, config: ConnectorConfig, query: RegistryQuery
    ) -> dict[str, NeedResult]:
        """Read all requested attributes in one request; every attribute gets a result."""
        specs = self.available_attributes()
        unknown = [name for name in query.attributes if name not in specs]
        if unknown:
            raise ValueError(f"Melderegister does not offer attribute(s): {', '.join(unknown)}")
        attributes = list(dict.fromkeys(query.attributes))
        try:
            response = await self._request_with_retries(client, config, query, attributes)
        except _Failure as failure:
            logger.warning("Melderegister read failed: %s", failure.reason)
            return _all(attributes, "failed", failure.reason)
        return self._interpret(response, attributes, specs)

    async def _request_with_retries(
        self,
        client: httpx.AsyncClient,
        config: ConnectorConfig,
        query: RegistryQuery,
        attributes: list[str],
    ) -> httpx.Response:
        """Reads are idempotent, so transient failures are retried with exponential backoff."""
        attempt = 0
        while True:
            try:
                return await self._request(client, config, query, attributes)
            except _Failure as failure:
                if not failure.retryable or attempt >= config.retries:
                    raise
                await asyncio.sleep(self.backoff_s * 2**attempt)
                attempt += 1

    async def _request(
        self,
        client: httpx.AsyncClient,
        config: ConnectorConfig,
        query: RegistryQuery,
        attributes: list[str],
    ) -> httpx.Response:
        headers = {
            "X-Purpose": query.purpose,
            "X-Legal-Basis": query.legal_basis,
            "X-Service": query.service,
            "X-Actor": query.actor,
        }
        if query.application_id:
            headers["X-Application-Id"] = query.application_id
        try:
            response = await client.post(
                config.base_url.rstrip("/") + self.path,
                json={"idnr": query.identifier, "attribute": attributes},
                headers={name: encode_header_value(value) for name, value in headers.items()},
                timeout=config.timeout_s,
            )
        except httpx.TimeoutException:
            raise _Failure("registry timed out", retryable=True) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            raise _Failure("registry unreachable", retryable=True) from None
        except httpx.TransportError as exc:
            raise _Failure(
                f"registry request failed ({type(exc).__name__})", retryable=False
            ) from None
        if response.status_code >= 500:
            raise _Failure(f"registry error (HTTP {response.status_code})", retryable=True)
        return response

    def _interpret(
        self, response: httpx.Response, attributes: list[str], specs: dict[str, AttributeSpec]
    ) -> dict[str, NeedResult]:
        if response.status_code == 404:
            # Only the register's own answer means "not registered"; a bare 404 (wrong URL,
            # proxy) must not pass as an empty record.
            if _error_code(response) == "person_unbekannt":
                return _all(attributes, "empty", "person not registered")
            return _all(attributes, "failed", "registry endpoint not found (HTTP 404)")
        if response.status_code != 200:
            code = _error_code(response)
            detail = f": {code}" if code else ""
            return _all(
                attributes,
                "failed",
                f"registry rejected the request (HTTP {response.status_code}{detail})",
            )
        try:
            answer = _Antwort.model_validate_json(response.content)
        except ValidationError:
            logger.warning("Melderegister sent a malformed response")
            return _all(attributes, "failed", "malformed response")
        provenance = Provenance(
            registry=self.id,
            registry_title=f"{self.title} ({answer.behoerde})",
            record_id=answer.record_id,
            as_of=answer.stand,
        )
        results: dict[str, NeedResult] = {}
        for name in attributes:
            if name not in answer.attribute:
                results[name] = NeedResult(
                    attribute=name, status="failed", reason="attribute missing from response"
                )
                continue
            raw = answer.attribute[name]
            if raw is None:
                results[name] = NeedResult(attribute=name, status="empty", reason="not held")
                continue
            try:
                value = _typed(raw, specs[name].type)
            except (TypeError, ValueError):
                results[name] = NeedResult(
                    attribute=name, status="failed", reason="malformed value in response"
                )
                continue
            results[name] = NeedResult(
                attribute=name, status="ok", value=value, provenance=provenance.model_copy()
            )
        return results


def _typed(raw: object, type_: AttributeType) -> str | date | bool:
    """Hand values on in the type the attribute declares, so rules compare dates, not strings."""
    if type_ == "date":
        if not isinstance(raw, str):
            raise TypeError("date must be an ISO string")
        return date.fromisoformat(raw)
    if type_ == "boolean":
        if not isinstance(raw, bool):
            raise TypeError("expected a boolean")
        return raw
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("fehler") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _all(
    attributes: list[str], status: Literal["empty", "failed"], reason: str
) -> dict[str, NeedResult]:
    return {name: NeedResult(attribute=name, status=status, reason=reason) for name in attributes}
