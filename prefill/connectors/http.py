"""Reading a registry over HTTP: purpose headers, credentials, deadline, retries with backoff.

Every shipped connector and the generic REST connector build on `HttpReadConnector`, so each
of them gets the same timeout, retry and failure rules without writing them again.
"""

from __future__ import annotations

import asyncio
import logging
import string
import time
from abc import abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import quote

import httpx

from prefill.connectors.base import (
    AttributeSpec,
    AttributeType,
    Connector,
    ConnectorConfig,
    NeedResult,
    RegistryQuery,
)

logger = logging.getLogger(__name__)

# HTTP header values are ASCII; legal bases contain "§", so values travel percent-encoded UTF-8.
# Printable ASCII stays as it is so the headers remain readable in logs.
_HEADER_SAFE = "".join(c for c in string.punctuation if c != "%") + " "

# Purpose binding per request, as X-Road (X-Road-UserId, X-Road-Issue) and the Dutch BRP API
# (x-doelbinding, x-verwerking) do it; docs/prefill.md maps our names to theirs.
PURPOSE_HEADER = "X-Purpose"
LEGAL_BASIS_HEADER = "X-Legal-Basis"
SERVICE_HEADER = "X-Service"
ACTOR_HEADER = "X-Actor"
APPLICATION_HEADER = "X-Application-Id"
CASE_HEADER = "X-Case-Id"


def encode_header_value(value: str) -> str:
    """Percent-encode a purpose header value so any UTF-8 text survives HTTP."""
    return quote(value.strip(), safe=_HEADER_SAFE)


def purpose_headers(query: RegistryQuery) -> dict[str, str]:
    """The headers that bind one read to its purpose, legal basis, service, case and actor."""
    headers = {
        PURPOSE_HEADER: query.purpose,
        LEGAL_BASIS_HEADER: query.legal_basis,
        SERVICE_HEADER: query.service,
        ACTOR_HEADER: query.actor,
    }
    if query.application_id:
        headers[APPLICATION_HEADER] = query.application_id
    if query.case_id:
        headers[CASE_HEADER] = query.case_id
    return {name: encode_header_value(value) for name, value in headers.items()}


class ReadFailure(Exception):
    """One attempt failed; retryable says whether another attempt could help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class RegistryRequest:
    """What one read sends: method, path below the base URL, query parameters, JSON body."""

    method: Literal["GET", "POST"]
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None


class HttpReadConnector(Connector):
    """A connector reading one registry over HTTP; subclasses say what to send and how to read."""

    @abstractmethod
    def build_request(self, query: RegistryQuery, attributes: list[str]) -> RegistryRequest:
        """The request that reads these attributes (all of them in one request)."""

    @abstractmethod
    def interpret(
        self, response: httpx.Response, query: RegistryQuery, attributes: list[str]
    ) -> dict[str, NeedResult]:
        """Turn a non-5xx answer into one result per requested attribute."""

    async def fetch(
        self, client: httpx.AsyncClient, config: ConnectorConfig, query: RegistryQuery
    ) -> dict[str, NeedResult]:
        """Read all requested attributes in one request; every attribute gets a result."""
        specs = self.available_attributes()
        unknown = [name for name in query.attributes if name not in specs]
        if unknown:
            raise ValueError(f"{self.title} does not offer attribute(s): {', '.join(unknown)}")
        attributes = list(dict.fromkeys(query.attributes))
        request = self.build_request(query, attributes)
        try:
            response = await self._send_with_retries(client, config, query, request)
        except ReadFailure as failure:
            logger.warning("%s read failed: %s", self.title, failure.reason)
            return all_results(attributes, "failed", failure.reason)
        return self.interpret(response, query, attributes)

    async def _send_with_retries(
        self,
        client: httpx.AsyncClient,
        config: ConnectorConfig,
        query: RegistryQuery,
        request: RegistryRequest,
    ) -> httpx.Response:
        """Reads are idempotent, so transient failures are retried with exponential backoff,
        as long as the read's deadline leaves room for another attempt."""
        deadline = time.monotonic() + config.read_deadline_s
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                return await self._send(
                    client, config, query, request, min(config.timeout_s, remaining)
                )
            except ReadFailure as failure:
                delay = config.backoff_s * 2**attempt
                out_of_time = deadline - time.monotonic() <= delay
                if not failure.retryable or attempt >= config.retries or out_of_time:
                    raise
                await asyncio.sleep(delay)
                attempt += 1

    async def _send(
        self,
        client: httpx.AsyncClient,
        config: ConnectorConfig,
        query: RegistryQuery,
        request: RegistryRequest,
        timeout_s: float,
    ) -> httpx.Response:
        headers = purpose_headers(query)
        headers.update(
            {name: secret.get_secret_value() for name, secret in config.auth_headers.items()}
        )
        if timeout_s <= 0:
            raise ReadFailure("registry timed out", retryable=False)
        try:
            # httpx's timeout bounds each network step; asyncio's bounds the whole attempt, so a
            # registry trickling bytes cannot hold the citizen's page beyond the deadline.
            async with asyncio.timeout(timeout_s):
                response = await client.request(
                    request.method,
                    config.base_url.rstrip("/") + request.path,
                    params=request.params or None,
                    json=request.json,
                    headers=headers,
                    timeout=timeout_s,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise ReadFailure("registry timed out", retryable=True) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            raise ReadFailure("registry unreachable", retryable=True) from None
        except httpx.TransportError as exc:
            raise ReadFailure(
                f"registry request failed ({type(exc).__name__})", retryable=False
            ) from None
        if response.status_code >= 500:
            raise ReadFailure(f"registry error (HTTP {response.status_code})", retryable=True)
        return response


def all_results(
    attributes: list[str], status: Literal["empty", "failed"], reason: str
) -> dict[str, NeedResult]:
    """The same outcome for every attribute of a read, e.g. when the registry failed."""
    return {name: NeedResult(attribute=name, status=status, reason=reason) for name in attributes}


def typed(raw: object, type_: AttributeType) -> object:
    """Hand values on in the type the attribute declares, so rules compare dates, not strings."""
    if type_ == "date":
        if not isinstance(raw, str):
            raise TypeError("date must be an ISO string")
        return date.fromisoformat(raw)
    if type_ == "boolean":
        if not isinstance(raw, bool):
            raise TypeError("expected a boolean")
        return raw
    if type_ == "integer":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise TypeError("expected an integer")
        return raw
    if type_ == "decimal":
        # Amounts travel as strings ("2480.00") or numbers; floats are read via str so that
        # 0.1 stays 0.1 and never becomes 0.1000000000000000055.
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise TypeError("expected an amount")
        try:
            amount = Decimal(str(raw))
        except InvalidOperation:
            raise ValueError("expected an amount") from None
        if not amount.is_finite():
            raise ValueError("expected a finite amount")
        return amount
    if type_ == "list":
        if not isinstance(raw, list):
            raise TypeError("expected a list")
        return raw
    if type_ == "object":
        if not isinstance(raw, dict):
            raise TypeError("expected an object")
        return raw
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw


def parse_as_of(raw: object) -> datetime:
    """A timezone-aware as-of time; a naive one is a malformed answer, not local time."""
    if not isinstance(raw, str):
        raise TypeError("as-of must be an ISO string")
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("as-of time without time zone")
    return value


def error_code(response: httpx.Response, key: str = "fehler") -> str | None:
    """The registry's machine-readable error code, if its answer has one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get(key) if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def attribute_specs(
    rows: tuple[tuple[str, AttributeType, str], ...],
) -> dict[str, AttributeSpec]:
    """Attribute declarations from (name, type, description) rows."""
    return {
        name: AttributeSpec(name=name, type=type_, description=description)
        for name, type_, description in rows
    }
