"""Sandbox Melderegister: answers purpose-bound reads about the test personas over real HTTP."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox.personas import PERSONAS, Persona

AUTHORITY = "Stadt Köln – Meldebehörde"

ATTRIBUTES: tuple[str, ...] = (
    "familienname",
    "vornamen",
    "geburtsname",
    "geburtsdatum",
    "geburtsort",
    "anschrift.strasse",
    "anschrift.hausnummer",
    "anschrift.plz",
    "anschrift.ort",
    "einzugsdatum",
    "staatsangehoerigkeit",
    "auskunftssperre",
)

# Like X-Road and the Dutch BRP API, a read is bound to a purpose by headers. Header values are
# percent-encoded UTF-8 because HTTP header values are ASCII and legal bases contain "§".
PURPOSE_HEADERS: tuple[str, ...] = ("X-Purpose", "X-Legal-Basis", "X-Service", "X-Actor")
OPTIONAL_HEADERS: tuple[str, ...] = ("X-Application-Id",)

# § 17 Abs. 1 BMG gives two weeks to register; the sandbox says the office took three days.
_REGISTRATION_DELAY = timedelta(days=3)
_FALLBACK_STAND = datetime(2020, 1, 2, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Resident:
    """What the Melderegister holds about one person, with the record's id and as-of time."""

    idnr: str
    record_id: str
    stand: datetime
    attributes: Mapping[str, str | bool | None]


def record_id_for(idnr: str) -> str:
    """A stable record id that does not reveal the tax id it was derived from."""
    digest = hashlib.sha256(f"melderegister:{idnr}".encode()).hexdigest()[:10].upper()
    return f"MR-KOELN-{digest}"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def resident_from_persona(persona: Persona) -> Resident:
    """Turn a persona into the register entry the Meldebehörde would hold."""
    if persona.idnr is None:
        raise ValueError(f"persona {persona.id!r} has no idnr and cannot be registered")
    address = persona.address
    stand = (
        datetime.combine(persona.moved_in + _REGISTRATION_DELAY, time(9, 30), tzinfo=UTC)
        if persona.moved_in
        else _FALLBACK_STAND
    )
    attributes: dict[str, str | bool | None] = {
        "familienname": persona.family_name,
        "vornamen": persona.given_name,
        "geburtsname": None,
        "geburtsdatum": _iso(persona.birthdate),
        "geburtsort": persona.birthplace,
        "anschrift.strasse": address.strasse if address else None,
        "anschrift.hausnummer": address.hausnummer if address else None,
        "anschrift.plz": address.plz if address else None,
        "anschrift.ort": address.ort if address else None,
        "einzugsdatum": _iso(persona.moved_in),
        "staatsangehoerigkeit": "deutsch",
        # § 51 BMG: no persona has asked for a block on disclosure.
        "auskunftssperre": False,
    }
    return Resident(
        idnr=persona.idnr, record_id=record_id_for(persona.idnr), stand=stand, attributes=attributes
    )


def residents_from_personas(personas: Iterable[Persona] = PERSONAS) -> dict[str, Resident]:
    """Every persona with an idnr who is registered, keyed by idnr."""
    return {p.idnr: resident_from_persona(p) for p in personas if p.idnr and p.in_melderegister}


class Abfrage(BaseModel):
    """A read of named attributes of one person."""

    idnr: str
    attribute: list[str]


class AbfrageAntwort(BaseModel):
    """The requested attributes only; an attribute the register holds nothing for is null."""

    record_id: str
    stand: datetime
    behoerde: str
    attribute: dict[str, str | bool | None]


def _header(request: Request, name: str) -> str | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    value = unquote(raw).strip()
    return value or None


def _fehler(status_code: int, code: str, **details: Any) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"fehler": code, **details})


def build_melderegister_router(
    residents: Mapping[str, Resident] | None = None, *, request_log_size: int = 100
) -> APIRouter:
    """One Melderegister with its own state, so each app (and each test) gets a fresh one."""
    register = residents if residents is not None else residents_from_personas()
    # Only attribute names, purpose headers and status: the log must not become a data leak.
    request_log: deque[dict[str, Any]] = deque(maxlen=request_log_size)
    router = APIRouter(prefix="/melderegister/v1", tags=["Melderegister"])

    @router.post(
        "/personen/abfrage",
        response_model=AbfrageAntwort,
        responses={
            400: {"description": "Zweckbindung fehlt oder Attribut unbekannt"},
            404: {"description": "Person nicht gemeldet"},
        },
    )
    async def abfrage(body: Abfrage, request: Request) -> AbfrageAntwort | JSONResponse:
        headers = {name: _header(request, name) for name in PURPOSE_HEADERS + OPTIONAL_HEADERS}
        response = _answer(body, headers)
        request_log.append(
            {
                "at": datetime.now(UTC).isoformat(),
                "attribute": list(body.attribute),
                "headers": headers,
                "status": response.status_code if isinstance(response, JSONResponse) else 200,
            }
        )
        return response

    def _answer(body: Abfrage, headers: Mapping[str, str | None]) -> AbfrageAntwort | JSONResponse:
        missing = [name for name in PURPOSE_HEADERS if headers[name] is None]
        if missing:
            return _fehler(400, "zweckbindung_fehlt", fehlende_header=missing)
        unknown = [name for name in body.attribute if name not in ATTRIBUTES]
        if unknown or not body.attribute:
            return _fehler(400, "attribut_unbekannt", attribute=unknown)
        resident = register.get(body.idnr)
        if resident is None:
            return _fehler(404, "person_unbekannt")
        return AbfrageAntwort(
            record_id=resident.record_id,
            stand=resident.stand,
            behoerde=AUTHORITY,
            attribute={name: resident.attributes[name] for name in dict.fromkeys(body.attribute)},
        )

    @router.get("/_requests")
    async def recent_requests() -> dict[str, list[dict[str, Any]]]:
        """Lets tests prove which purpose a read was bound to, without exposing values."""
        return {"requests": list(request_log)}

    return router
