"""Idempotent writes to a register over HTTP, shared by the writable register connectors.

One attempt per call: the caller (the durable write-back step) owns the retry policy, and
because every write carries its idempotency key a retry can never enter a record twice.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from prefill.connectors.base import (
    AttributeSpec,
    CancelRequest,
    ConnectorConfig,
    NeedResult,
    RegistryQuery,
    WritableConnector,
    WriteRequest,
    WriteResult,
)
from prefill.connectors.http import encode_header_value

logger = logging.getLogger(__name__)


class _Quittung(BaseModel):
    """The register's receipt for a stored entry."""

    record_id: str
    stand: datetime
    duplicate: bool = False


class RegisterWriteConnector(WritableConnector):
    """A register that accepts entries by operation and offers no reads to Knopfdruck."""

    write_paths: ClassVar[dict[str, str]] = {}
    """Operation name → path below the registries base URL."""

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        """Nothing is read from these registers; a definition sourcing from them is rejected."""
        return {}

    async def fetch(
        self, client: httpx.AsyncClient, config: ConnectorConfig, query: RegistryQuery
    ) -> dict[str, NeedResult]:
        """Refuse every attribute, as for any attribute a connector does not offer."""
        if query.attributes:
            raise ValueError(f"{self.title} does not offer attribute(s) to read")
        return {}

    async def write(
        self, client: httpx.AsyncClient, config: ConnectorConfig, request: WriteRequest
    ) -> WriteResult:
        """Send the entry once; every outcome is a WriteResult, never an exception."""
        path = self.write_paths.get(request.operation)
        if path is None:
            return WriteResult(status="failed", reason=f"unknown operation '{request.operation}'")
        headers = {
            "X-Purpose": request.purpose,
            "X-Legal-Basis": request.legal_basis,
            "X-Service": request.service,
            "X-Actor": request.actor,
            "X-Case-Id": request.case_id,
            "Idempotency-Key": request.idempotency_key,
        }
        if request.provenance:
            headers["X-Herkunft"] = json.dumps(request.provenance, ensure_ascii=False)
        sent = {name: encode_header_value(value) for name, value in headers.items()}
        sent.update({name: value.get_secret_value() for name, value in config.auth_headers.items()})
        try:
            response = await client.post(
                config.base_url.rstrip("/") + path,
                json=request.record,
                headers=sent,
                timeout=config.timeout_s,
            )
        except httpx.TimeoutException:
            # The entry may have been stored; the idempotency key makes the retry safe.
            return WriteResult(status="failed", reason="register timed out", retryable=True)
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            return WriteResult(status="failed", reason="register unreachable", retryable=True)
        except httpx.TransportError as exc:
            return WriteResult(
                status="failed", reason=f"request failed ({type(exc).__name__})", retryable=False
            )
        return self._interpret(response)

    async def cancel(
        self, client: httpx.AsyncClient, config: ConnectorConfig, request: CancelRequest
    ) -> WriteResult:
        """Cancel the entry once (DELETE on its record); every outcome is a WriteResult."""
        path = self.write_paths.get(request.operation)
        if path is None:
            return WriteResult(status="failed", reason=f"unknown operation '{request.operation}'")
        headers = {
            "X-Purpose": request.purpose,
            "X-Legal-Basis": request.legal_basis,
            "X-Service": request.service,
            "X-Actor": request.actor,
            "X-Case-Id": request.case_id,
            "Idempotency-Key": request.idempotency_key,
            "X-Aufhebungsgrund": request.reason,
        }
        sent = {name: encode_header_value(value) for name, value in headers.items()}
        sent.update({name: value.get_secret_value() for name, value in config.auth_headers.items()})
        url = f"{config.base_url.rstrip('/')}{path}/{quote(request.record_id, safe='')}"
        try:
            response = await client.delete(url, headers=sent, timeout=config.timeout_s)
        except httpx.TimeoutException:
            return WriteResult(status="failed", reason="register timed out", retryable=True)
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            return WriteResult(status="failed", reason="register unreachable", retryable=True)
        except httpx.TransportError as exc:
            return WriteResult(
                status="failed", reason=f"request failed ({type(exc).__name__})", retryable=False
            )
        if response.status_code >= 500 or response.status_code == 429:
            return WriteResult(
                status="failed",
                reason=f"register error (HTTP {response.status_code})",
                retryable=True,
            )
        if response.status_code != 200:
            code = _error_code(response)
            detail = f": {code}" if code else ""
            return WriteResult(
                status="failed",
                reason=f"register refused the cancellation (HTTP {response.status_code}{detail})",
            )
        body = _json_object(response)
        duplicate = bool(body.get("duplicate")) if body is not None else False
        return WriteResult(
            status="duplicate" if duplicate else "written", record_id=request.record_id
        )

    def _interpret(self, response: httpx.Response) -> WriteResult:
        if response.status_code >= 500 or response.status_code == 429:
            return WriteResult(
                status="failed",
                reason=f"register error (HTTP {response.status_code})",
                retryable=True,
            )
        if response.status_code not in (200, 201):
            code = _error_code(response)
            detail = f": {code}" if code else ""
            return WriteResult(
                status="failed",
                reason=f"register refused the entry (HTTP {response.status_code}{detail})",
            )
        try:
            receipt = _Quittung.model_validate_json(response.content)
        except ValidationError:
            logger.warning("%s sent a malformed receipt", self.title)
            # Whether the entry was stored is unknown; the same key tells on the next attempt.
            return WriteResult(status="failed", reason="malformed receipt", retryable=True)
        return WriteResult(
            status="duplicate" if receipt.duplicate else "written", record_id=receipt.record_id
        )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error_code(response: httpx.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    code = body.get("fehler") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
