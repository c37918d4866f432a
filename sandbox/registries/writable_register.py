"""What the sandbox's writable registers share: purpose-bound, idempotent entries and outages.

A register stores an entry once per idempotency key. A repeated key with the same entry
returns the first receipt, flagged as a duplicate (the sender retried after a lost answer);
the same key with a different entry is refused, because the sender has a bug. An entry whose
decision was withdrawn or changed is cancelled (``DELETE <collection>/<record_id>``, with the
same purpose headers and its own idempotency key): the register keeps it, marked as cancelled
with when, why and for which case, as a register keeps its history. Tests can
switch on an outage (the next n writes fail, or are stored but their answer is lost) and
read what was written, so retries and idempotency are observable over real HTTP.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PURPOSE_HEADERS: tuple[str, ...] = (
    "X-Purpose",
    "X-Legal-Basis",
    "X-Service",
    "X-Actor",
    "X-Case-Id",
    "Idempotency-Key",
)
CANCEL_REASON_HEADER = "X-Aufhebungsgrund"
PROVENANCE_HEADER = "X-Herkunft"


class Stoerung(BaseModel):
    """An outage for tests: the next writes fail, or are stored while their answer is lost."""

    model_config = ConfigDict(extra="forbid")

    fehlschlagen: int = Field(0, ge=0, description="Refuse the next n writes with `status`.")
    antwort_verlieren: int = Field(
        0, ge=0, description="Store the next n writes but answer with `status` (lost answer)."
    )
    status: int = Field(503, ge=500, le=599)


@dataclass
class Entry:
    """One stored register entry with the purpose it was written for."""

    record_id: str
    idempotency_key: str
    fingerprint: str
    operation: str
    record: dict[str, Any]
    case_id: str
    service: str
    purpose: str
    legal_basis: str
    stand: datetime
    herkunft: dict[str, str] = field(default_factory=dict)
    aufgehoben_am: datetime | None = None
    aufhebung_key: str | None = None
    aufhebung_grund: str | None = None

    def receipt(self, *, duplicate: bool) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "stand": self.stand.isoformat(),
            "duplicate": duplicate,
        }

    def cancellation(self, *, duplicate: bool) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "aufgehoben_am": self.aufgehoben_am.isoformat() if self.aufgehoben_am else None,
            "duplicate": duplicate,
        }


@dataclass
class RegisterState:
    """Entries by idempotency key plus the outage switch; one per router, never global."""

    entries: dict[str, Entry] = field(default_factory=dict)
    requests: int = 0
    stoerung: Stoerung = field(default_factory=Stoerung)


def _header(request: Request, name: str) -> str | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    value = unquote(raw).strip()
    return value or None


def _provenance(request: Request) -> dict[str, str]:
    """Where each value of the entry comes from, as the sender declares it (JSON object)."""
    raw = _header(request, PROVENANCE_HEADER)
    if raw is None:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): str(v) for k, v in parsed.items()}


def _fehler(status_code: int, code: str, **details: Any) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"fehler": code, **details})


def _fingerprint(operation: str, record: dict[str, Any]) -> str:
    canonical = json.dumps([operation, record], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_writable_register_router(
    *,
    prefix: str,
    tag: str,
    operations: dict[str, tuple[str, type[BaseModel]]],
    new_record_id: Callable[[int, BaseModel], str],
) -> APIRouter:
    """A register router: one POST per operation (path → model), plus test endpoints."""
    state = RegisterState()
    router = APIRouter(prefix=prefix, tags=[tag])

    def add_operation(path: str, operation: str, model: type[BaseModel]) -> None:
        @router.post(
            path,
            status_code=201,
            name=operation,
            responses={
                200: {"description": "Schon eingetragen (wiederholter Idempotency-Key)"},
                400: {"description": "Zweckbindung oder Idempotency-Key fehlt"},
                409: {"description": "Idempotency-Key mit anderem Eintrag wiederverwendet"},
                422: {"description": "Eintrag ungültig"},
            },
        )
        async def write(request: Request) -> JSONResponse:
            state.requests += 1
            headers = {name: _header(request, name) for name in PURPOSE_HEADERS}
            missing = [name for name, value in headers.items() if value is None]
            if missing:
                return _fehler(400, "zweckbindung_fehlt", fehlende_header=missing)
            try:
                body = await request.json()
                entry_model = model.model_validate(body)
            except ValueError as exc:
                details = (
                    [
                        {"feld": ".".join(map(str, e["loc"])), "problem": e["msg"]}
                        for e in exc.errors()
                    ]
                    if isinstance(exc, ValidationError)
                    else [{"feld": "body", "problem": "kein JSON"}]
                )
                return _fehler(422, "eintrag_ungueltig", details=details)
            record = entry_model.model_dump(mode="json")
            key = str(headers["Idempotency-Key"])
            fingerprint = _fingerprint(operation, record)
            existing = state.entries.get(key)
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    return _fehler(409, "schluessel_wiederverwendet")
                return JSONResponse(existing.receipt(duplicate=True), status_code=200)
            outage = state.stoerung
            if outage.fehlschlagen > 0:
                outage.fehlschlagen -= 1
                return _fehler(outage.status, "register_gestoert")
            entry = Entry(
                record_id=new_record_id(len(state.entries) + 1, entry_model),
                idempotency_key=key,
                fingerprint=fingerprint,
                operation=operation,
                record=record,
                case_id=str(headers["X-Case-Id"]),
                service=str(headers["X-Service"]),
                purpose=str(headers["X-Purpose"]),
                legal_basis=str(headers["X-Legal-Basis"]),
                stand=datetime.now(UTC),
                herkunft=_provenance(request),
            )
            state.entries[key] = entry
            if outage.antwort_verlieren > 0:
                outage.antwort_verlieren -= 1
                return _fehler(outage.status, "antwort_verloren")
            return JSONResponse(entry.receipt(duplicate=False), status_code=201)

    def add_cancellation(path: str) -> None:
        @router.delete(
            path + "/{record_id}",
            name=f"{path.strip('/')}_aufheben",
            responses={
                200: {"description": "Eintrag aufgehoben (oder schon aufgehoben, gleicher Key)"},
                400: {"description": "Zweckbindung, Idempotency-Key oder Grund fehlt"},
                404: {"description": "Kein solcher Eintrag"},
                409: {"description": "Eintrag schon unter anderem Key aufgehoben"},
            },
        )
        async def cancel(record_id: str, request: Request) -> JSONResponse:
            """Cancel an entry whose decision was withdrawn or changed; idempotent by key."""
            state.requests += 1
            headers = {name: _header(request, name) for name in PURPOSE_HEADERS}
            headers[CANCEL_REASON_HEADER] = _header(request, CANCEL_REASON_HEADER)
            missing = [name for name, value in headers.items() if value is None]
            if missing:
                return _fehler(400, "zweckbindung_fehlt", fehlende_header=missing)
            entry = next((e for e in state.entries.values() if e.record_id == record_id), None)
            if entry is None or entry.case_id != headers["X-Case-Id"]:
                return _fehler(404, "eintrag_unbekannt")
            key = str(headers["Idempotency-Key"])
            if entry.aufgehoben_am is not None:
                if entry.aufhebung_key != key:
                    return _fehler(409, "schon_aufgehoben")
                return JSONResponse(entry.cancellation(duplicate=True), status_code=200)
            outage = state.stoerung
            if outage.fehlschlagen > 0:
                outage.fehlschlagen -= 1
                return _fehler(outage.status, "register_gestoert")
            entry.aufgehoben_am = datetime.now(UTC)
            entry.aufhebung_key = key
            entry.aufhebung_grund = str(headers[CANCEL_REASON_HEADER])
            return JSONResponse(entry.cancellation(duplicate=False), status_code=200)

    for operation, (path, model) in operations.items():
        add_operation(path, operation, model)
    for path in sorted({path for path, _model in operations.values()}):
        add_cancellation(path)

    @router.get("/_eintraege", include_in_schema=False)
    async def entries(case_id: str | None = None) -> dict[str, Any]:
        """Lets tests count what was written (and how often it was asked to write)."""
        selected = [e for e in state.entries.values() if case_id is None or e.case_id == case_id]
        return {
            "anfragen": state.requests,
            "eintraege": [
                {
                    "record_id": e.record_id,
                    "idempotency_key": e.idempotency_key,
                    "operation": e.operation,
                    "case_id": e.case_id,
                    "service": e.service,
                    "purpose": e.purpose,
                    "legal_basis": e.legal_basis,
                    "stand": e.stand.isoformat(),
                    "eintrag": e.record,
                    "herkunft": e.herkunft,
                    "aufgehoben_am": e.aufgehoben_am.isoformat() if e.aufgehoben_am else None,
                    "aufhebung_grund": e.aufhebung_grund,
                }
                for e in selected
            ],
        }

    @router.put("/_stoerung", include_in_schema=False)
    async def set_outage(stoerung: Stoerung) -> dict[str, int]:
        """Lets tests make the register fail, to prove retries and idempotency."""
        state.stoerung = stoerung
        return stoerung.model_dump()

    return router
