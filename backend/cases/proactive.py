"""Proactive offers: after a birth the parents are offered Kindergeld and Elterngeld unasked.

After the model of Bremen's ELFE and Austria's application-free family allowance: the birth
recorded in the Personenstandsregister is the trigger, not an application.

**Decision: read the parent's own civil-status record when they open the portal, instead of
storing the birth feed.** The register is the source of truth; the feed
(``GET /personenstandsregister/v1/geburten``) would make the platform keep a copy of every
birth in the city, of people who may never log in (data minimisation, Art. 5 Abs. 1 lit. c
GDPR). The read uses the Kindergeld definition's own declared data need and its legal basis
(§ 62, § 63 EStG), goes through ``prefill`` like every other read, and is written to the
access log the citizen sees in the data cockpit under its own purpose (``OFFER_PURPOSE``) and
actor (``OFFER_ACTOR``): the citizen has not applied, so the row must not read as the
Festsetzung of a case being processed. The answer is cached per citizen for a few
minutes in the process (``CACHE_TTL``), so reloading the start page does not read the register
again, while a birth recorded today still shows within minutes. The price: the offer
waits until the parent next opens the portal; a mailbox message at the moment of the birth
would need the feed consumer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.cases.applications import access_rows, data_needs
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.constraints import local_day, local_today
from backend.definitions.display import as_date
from backend.definitions.models import ServiceDefinition
from backend.records.models import Application
from prefill.connectors.base import TRUST_ORDER
from prefill.service import prefill

BIRTH_SERVICE = "kindergeld"
"""The definition whose declared data needs the birth lookup uses."""
BIRTH_FIELDS = ("kind_vornamen", "kind_geburtsdatum")

OFFER_WINDOWS: dict[str, timedelta] = {
    # § 66 Abs. 3 EStG: Kindergeld is paid back for six months before the application.
    "kindergeld": timedelta(days=183),
    # § 7 Abs. 1 Satz 2 BEEG: Elterngeld is paid back for three months only, so offer it early.
    "elterngeld": timedelta(days=92),
}
"""Services offered after a birth, and for how long after it."""
CACHE_TTL = timedelta(minutes=5)
OFFER_PURPOSE = "Prüfung eines proaktiven Leistungsangebots"
"""The purpose the cockpit shows for the birth lookup: an offer is checked, nothing is decided."""
OFFER_ACTOR = "proactive"
"""Actor of the birth lookup in the access log; the cockpit names it as an offer check."""


@dataclass(frozen=True)
class Offer:
    """One service offered to a citizen without being asked, and why."""

    service: str
    child_given_name: str
    born_on: date


class ProactiveOffers:
    """Finds a citizen's offers; holds the day's register answers so reloads read nothing."""

    def __init__(
        self,
        today: Callable[[], date] = local_today,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._today = today
        self._clock = clock
        self._births: dict[str, tuple[float, tuple[str, date] | None]] = {}

    async def _youngest_child(
        self, ctx: AppContext, identity: Identity, definition: ServiceDefinition
    ) -> tuple[str, date] | None:
        now = self._clock()
        cached = self._births.get(identity.sub)
        if cached is not None and now - cached[0] < CACHE_TTL.total_seconds():
            return cached[1]
        needs = data_needs(definition, only=BIRTH_FIELDS)
        if len(needs) != len(BIRTH_FIELDS) or not identity.idnr:
            return None
        outcome = await prefill(
            needs,
            identity_claims={"sub": identity.sub, "idnr": identity.idnr},
            service=definition.id,
            application_id=None,
            actor="system",
            registry=ctx.connectors,
            configs=ctx.connector_configs,
            client=ctx.http,
            declared={(n.connector, n.attribute) for n in needs},
            health=ctx.registry_health,
        )
        await run_in_threadpool(_store_accesses, ctx, identity, outcome.accesses)
        name = outcome.results["kind_vornamen"]
        born = outcome.results["kind_geburtsdatum"]
        if name.status == "failed" or born.status == "failed":
            return None  # not cached: a register that is down may answer on the next visit
        born_on = as_date(born.value) if born.status == "ok" else None
        found = (str(name.value or ""), born_on) if born_on is not None else None
        if len(self._births) > 10_000:
            self._births.clear()
        self._births[identity.sub] = (now, found)
        return found

    async def offers_for(self, ctx: AppContext, identity: Identity | None) -> list[Offer]:
        """Kindergeld and Elterngeld after a recent birth, unless already applied for."""
        if identity is None or identity.is_clerk or BIRTH_SERVICE not in ctx.catalogue:
            return []
        child = await self._youngest_child(ctx, identity, ctx.catalogue.get(BIRTH_SERVICE))
        if child is None:
            return []
        given_name, born_on = child
        age = self._today() - born_on
        candidates = [
            slug
            for slug, window in OFFER_WINDOWS.items()
            if slug in ctx.catalogue
            and timedelta(0) <= age <= window
            and TRUST_ORDER.get(identity.trust_level, 0)
            >= TRUST_ORDER[ctx.catalogue.get(slug).trust_level]
        ]
        if not candidates:
            return []
        applied = await run_in_threadpool(_applied_since, ctx, identity.sub, candidates, born_on)
        return [Offer(slug, given_name, born_on) for slug in candidates if slug not in applied]


def _applied_since(ctx: AppContext, sub: str, services: list[str], born_on: date) -> set[str]:
    """Services the citizen has started since the birth: those are no longer offered."""
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(Application.service, Application.created_at).where(
                Application.citizen_sub == sub, col(Application.service).in_(services)
            )
        ).all()
    return {service for service, created in rows if local_day(created) >= born_on}


def _store_accesses(ctx: AppContext, identity: Identity, accesses: list[Any]) -> None:
    """Every register read is logged for the data cockpit (§ 10 OZG), this one too."""
    if not accesses:
        return
    with unit_of_work(ctx.engine) as session:
        for row in access_rows(accesses, identity.sub):
            row.purpose = OFFER_PURPOSE
            row.actor = OFFER_ACTOR
            session.add(row)
