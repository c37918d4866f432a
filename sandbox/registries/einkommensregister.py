"""Sandbox Einkommensregister: monthly net pay as employers report it to the Rentenversicherung
(§ 28a SGB IV), the basis of Elterngeld (§ 2 BEEG)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fastapi import APIRouter

from sandbox.population import LazyPopulation
from sandbox.population_model import EmploymentRecord, Population
from sandbox.registries.common import Abfrage, Eintrag, at_half_past_nine, build_abfrage_router

AUTHORITY = "Deutsche Rentenversicherung Rheinland"

ATTRIBUTES: tuple[str, ...] = (
    "beschaeftigt",
    "arbeitgeber",
    "nettoeinkommen.monate",
    "nettoeinkommen.durchschnitt_12_monate",
)

MONTHS_REPORTED = 24
CENT = Decimal("0.01")


def _months_before(today: date, count: int) -> list[date]:
    """The first days of the `count` complete months before this one, oldest first."""
    months: list[date] = []
    current = today.replace(day=1)
    for _ in range(count):
        current = (current - timedelta(days=1)).replace(day=1)
        months.append(current)
    return list(reversed(months))


def _pay(job: EmploymentRecord, month: date) -> Decimal:
    if not job.varies:
        return job.monthly_net
    # Overtime and bonuses move pay a little; the same month always gets the same amount.
    digest = hashlib.sha256(f"{job.person}:{month.isoformat()}".encode()).digest()
    factor = Decimal(970 + digest[0] % 61) / 1000
    return (job.monthly_net * factor).quantize(CENT, rounding=ROUND_HALF_UP)


def monthly_income(job: EmploymentRecord, today: date) -> list[dict[str, Any]]:
    """The reported months; months with Mutterschaftsgeld carry no pay (§ 3 MuSchG)."""
    entries: list[dict[str, Any]] = []
    for month in _months_before(today, MONTHS_REPORTED):
        if month < job.since.replace(day=1):
            continue
        if job.until is not None and month >= job.until.replace(day=1):
            break
        maternity = job.maternity_from is not None and month >= job.maternity_from.replace(day=1)
        entries.append(
            {
                "monat": month.strftime("%Y-%m"),
                "netto": None if maternity else str(_pay(job, month)),
                "art": "mutterschaftsgeld" if maternity else "beschaeftigung",
                "arbeitgeber": job.employer,
            }
        )
    return entries


def average_of_last_twelve(entries: list[dict[str, Any]]) -> str | None:
    """§ 2b Abs. 1 BEEG: months with Mutterschaftsgeld are skipped, earlier ones count instead."""
    paid = [Decimal(e["netto"]) for e in entries if e["art"] == "beschaeftigung"][-12:]
    if not paid:
        return None
    return str((sum(paid, Decimal(0)) / len(paid)).quantize(CENT, rounding=ROUND_HALF_UP))


def _lookup(population: Population, body: Abfrage) -> Eintrag | None:
    idnr = body.idnr or ""
    if idnr not in population.persons:
        return None
    job = population.employment.get(idnr)
    today = population.today
    entries = monthly_income(job, today) if job else []
    employed = job is not None and job.since <= today and (job.until is None or today < job.until)
    values: dict[str, Any] = {
        "beschaeftigt": employed,
        "arbeitgeber": job.employer if job and employed else None,
        "nettoeinkommen.monate": entries,
        "nettoeinkommen.durchschnitt_12_monate": average_of_last_twelve(entries),
    }
    digest = hashlib.sha256(f"drv:{idnr}".encode()).hexdigest()[:10].upper()
    return Eintrag(
        record_id=f"DRV-{digest}",
        # Pay of a month is reported with the next payroll run: the register is as of the
        # last day of the previous month.
        stand=at_half_past_nine(today.replace(day=1) - timedelta(days=1)),
        werte=values,
    )


def build_einkommensregister_router(
    population: LazyPopulation, *, request_log_size: int = 100
) -> APIRouter:
    return build_abfrage_router(
        prefix="/einkommensregister/v1",
        tag="Einkommensregister",
        resource="beschaeftigte",
        authority=AUTHORITY,
        attributes=ATTRIBUTES,
        population=population,
        lookup=_lookup,
        request_log_size=request_log_size,
    )
