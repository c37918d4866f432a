"""What the sandbox's read registries share: purpose binding, the read protocol, a request log.

Every register answers ``POST /<register>/v1/<resource>/abfrage`` with the requested
attributes only. A read without purpose headers is refused (400 ``zweckbindung_fehlt``), as
is an attribute the register does not hold (400 ``attribut_unbekannt``). The request log
keeps attribute names, purpose headers and status, never identifiers or values, so tests
can prove what a read was bound to without the log becoming a data leak.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sandbox.personas import Address
from sandbox.population import LazyPopulation
from sandbox.population_model import Population

# Like X-Road and the Dutch BRP API, a read is bound to a purpose by headers. Header values are
# percent-encoded UTF-8 because HTTP header values are ASCII and legal bases contain "§".
PURPOSE_HEADERS: tuple[str, ...] = ("X-Purpose", "X-Legal-Basis", "X-Service", "X-Actor")
OPTIONAL_HEADERS: tuple[str, ...] = ("X-Application-Id", "X-Case-Id")


class AnschriftSchluessel(BaseModel):
    """An address as a lookup key (Geodaten)."""

    model_config = ConfigDict(extra="forbid")

    strasse: str = Field(max_length=200)
    hausnummer: str = Field(max_length=20)
    plz: str = Field(max_length=10)

    def as_address(self) -> Address:
        return Address(self.strasse.strip(), self.hausnummer.strip(), self.plz.strip(), "")


class Abfrage(BaseModel):
    """A read of named attributes, keyed by the tax id or (Geodaten) by an address."""

    idnr: str | None = Field(None, max_length=20)
    anschrift: AnschriftSchluessel | None = None
    attribute: list[str] = Field(max_length=100)


class AbfrageAntwort(BaseModel):
    """The requested attributes only; null means the register holds nothing. `hinweise`
    explains a null that means something else (withheld under § 51 BMG, ambiguous)."""

    record_id: str | None
    stand: datetime
    behoerde: str
    attribute: dict[str, Any]
    hinweise: dict[str, str] | None = None


@dataclass(frozen=True)
class Eintrag:
    """What a register holds about one key: every attribute, with record id and as-of time."""

    record_id: str | None
    stand: datetime
    werte: Mapping[str, Any]
    hinweise: Mapping[str, str] = field(default_factory=dict)
    gesperrt: Mapping[str, Any] = field(default_factory=dict)
    """Values withheld from third parties (§ 51 BMG), released only to a read the register's
    authority makes for the person herself (see ``releases_blocked``)."""
    behoerde: str | None = None
    """The office that keeps this entry, where it is not the register's default (a resident
    of another municipality is in that municipality's register)."""


Lookup = Callable[[Population, Abfrage], Eintrag | None]
"""Finds the entry for a read; None means the register does not know the key."""


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def at_half_past_nine(day: date) -> datetime:
    """The sandbox's offices enter everything at 09:30 UTC, and never in the future."""
    return min(
        datetime.combine(day, time(9, 30), tzinfo=UTC), datetime.now(UTC).replace(microsecond=0)
    )


def header(request: Request, name: str) -> str | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    value = unquote(raw).strip()
    return value or None


def fehler(status_code: int, code: str, **details: Any) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"fehler": code, **details})


class RequestLog:
    """The last reads of one register: names, purpose headers and status; never values."""

    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def add(self, attributes: list[str], headers: Mapping[str, str | None], status: int) -> None:
        self._entries.append(
            {
                "at": datetime.now(UTC).isoformat(),
                "attribute": list(attributes),
                "headers": dict(headers),
                "status": status,
            }
        )

    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)


def purpose_headers(request: Request) -> dict[str, str | None]:
    return {name: header(request, name) for name in PURPOSE_HEADERS + OPTIONAL_HEADERS}


def build_abfrage_router(
    *,
    prefix: str,
    tag: str,
    resource: str,
    authority: str,
    attributes: tuple[str, ...],
    population: LazyPopulation,
    lookup: Lookup,
    key: str = "idnr",
    unknown_code: str = "person_unbekannt",
    request_log_size: int = 100,
    releases_blocked: Callable[[Mapping[str, str | None]], bool] | None = None,
) -> APIRouter:
    """One register's read endpoint and request log, with state of its own."""
    log = RequestLog(request_log_size)
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.post(
        f"/{resource}/abfrage",
        response_model=AbfrageAntwort,
        response_model_exclude_none=False,
        responses={
            400: {"description": "Zweckbindung fehlt, Schlüssel fehlt oder Attribut unbekannt"},
            404: {"description": "Schlüssel (Person, Anschrift) unbekannt"},
        },
    )
    async def abfrage(body: Abfrage, request: Request) -> JSONResponse:
        headers = purpose_headers(request)
        response = await answer(body, headers)
        log.add(body.attribute, headers, response.status_code)
        return response

    async def answer(body: Abfrage, headers: Mapping[str, str | None]) -> JSONResponse:
        missing = [name for name in PURPOSE_HEADERS if headers[name] is None]
        if missing:
            return fehler(400, "zweckbindung_fehlt", fehlende_header=missing)
        unknown = [name for name in body.attribute if name not in attributes]
        if unknown or not body.attribute:
            return fehler(400, "attribut_unbekannt", attribute=unknown)
        if getattr(body, key) is None:
            return fehler(400, "schluessel_fehlt", schluessel=key)
        if not population.built:
            # Building takes a few hundred milliseconds: keep the event loop free meanwhile.
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(population.get)
        entry = lookup(population.get(), body)
        if entry is None:
            return fehler(404, unknown_code)
        requested = list(dict.fromkeys(body.attribute))
        werte, hinweise = dict(entry.werte), dict(entry.hinweise)
        if entry.gesperrt and releases_blocked is not None and releases_blocked(headers):
            # The person's own request: the block is not against her. The value comes with a
            # hint, so the reader knows not to pass it on to third parties.
            werte.update(entry.gesperrt)
            hinweise.update({name: "auskunftssperre_eigene" for name in entry.gesperrt})
        content: dict[str, Any] = {
            "record_id": entry.record_id,
            "stand": entry.stand.isoformat().replace("+00:00", "Z"),
            "behoerde": entry.behoerde or authority,
            "attribute": {name: werte.get(name) for name in requested},
        }
        hints = {name: hinweise[name] for name in requested if name in hinweise}
        if hints:
            content["hinweise"] = hints
        return JSONResponse(content)

    @router.get("/_requests", include_in_schema=False)
    async def recent_requests() -> dict[str, list[dict[str, Any]]]:
        """Lets tests prove which purpose a read was bound to, without exposing values."""
        return {"requests": log.entries()}

    return router
