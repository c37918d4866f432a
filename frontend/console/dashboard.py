"""Console start page: the department's key figures, trend charts (server-rendered SVG, each
with a table for screen readers) and the KPI table as CSV."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.api.v1_console_insight import csv_response
from backend.cases import incidents
from backend.console import kpis
from backend.department.access import department_services
from backend.department.identity import Permission
from frontend.console.common import render, require_clerk
from frontend.rendering import LOCALES, N_, language
from frontend.web import ctx_of

WINDOWS = (7, 30, 90)
"""Windows the page offers; the API accepts any from 1 to 366 days."""

REFERRAL_LABELS: dict[str, str] = {
    "no_legal_basis": N_("keine Rechtsgrundlage für Automatisierung (§ 35a VwVfG)"),
    "automation_paused": N_("Automatisierung angehalten"),
    "disputed_data": N_("Registerangabe bestritten"),
    "remark": N_("Anmerkung der Antragstellerin oder des Antragstellers"),
    "registry_failure": N_("Register nicht erreichbar"),
    "held_data_missing": N_("Register hält die Angabe nicht"),
    "register_blocked": N_("Auskunftssperre im Melderegister"),
    "unverified_register_fact": N_("Registerangabe nicht aus dem Register"),
    "rule_referred": N_("Regel verlangt Prüfung"),
    "rule_error": N_("Regel nicht auswertbar"),
    "threshold": N_("Schwellenwert überschritten"),
    "outside_validity": N_("Regeln am Stichtag nicht gültig"),
    "qa_sample": N_("Stichprobe der Qualitätssicherung"),
    "handover_rejected": N_("Fachverfahren hat abgelehnt"),
    "other": N_("sonstiger Grund"),
}


def _window(raw: str | None) -> int:
    """Only the offered windows; anything else falls back to the default (never a 500)."""
    try:
        value = int(raw or kpis.DEFAULT_WINDOW_DAYS)
    except ValueError:
        return kpis.DEFAULT_WINDOW_DAYS
    return value if value in WINDOWS else kpis.DEFAULT_WINDOW_DAYS


def fmt_duration(seconds: float | None, lang: str) -> str:
    """A processing time as people say it: seconds, minutes, hours or days."""
    if seconds is None:
        return "–"
    comma = lang == "de"

    def num(value: float) -> str:
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if comma else text

    if seconds < 90:
        return f"{num(seconds)} s"
    if seconds < 90 * 60:
        return f"{num(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{num(seconds / 3600)} h"
    days = seconds / 86400
    return f"{num(days)} {'Tage' if lang == 'de' else 'days'}"


def fmt_share(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',') if lang == 'de' else text} %"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str
    """automated · manual"""


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Geometry of the trend chart; the template only draws it."""

    width: int
    height: int
    plot_left: int
    plot_bottom: float
    plot_right: float
    bars: list[Bar]
    line: str
    """Polyline points of daily submissions."""
    ticks: list[Tick]
    x_labels: list[tuple[float, str]]


def trend_chart(days: list[kpis.TrendDay], lang: str) -> Chart:
    """Stacked bars of decisions per day (automated, manual) and a line of submissions."""
    width, height = 760, 260
    left, right, top, bottom = 44, 12, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *(d.submitted for d in days), *(d.automated + d.manual for d in days)])
    step = _nice_step(peak)
    top_value = step * -(-peak // step)
    slot = plot_w / max(1, len(days))
    bar_w = max(2.0, slot * 0.6)

    def y_of(value: float) -> float:
        return round(top + plot_h - plot_h * value / top_value, 1)

    bars: list[Bar] = []
    points: list[str] = []
    labels: list[tuple[float, str]] = []
    every = max(1, len(days) // 8)
    for index, day in enumerate(days):
        x = left + slot * index + (slot - bar_w) / 2
        base = float(day.automated)
        if day.automated:
            bars.append(
                Bar(
                    round(x, 1),
                    y_of(base),
                    round(bar_w, 1),
                    round(y_of(0) - y_of(base), 1),
                    "automated",
                )
            )
        if day.manual:
            total = base + day.manual
            bars.append(
                Bar(
                    round(x, 1),
                    y_of(total),
                    round(bar_w, 1),
                    round(y_of(base) - y_of(total), 1),
                    "manual",
                )
            )
        center = round(left + slot * index + slot / 2, 1)
        points.append(f"{center},{y_of(day.submitted)}")
        if index % every == 0 or index == len(days) - 1:
            labels.append((center, day.day.strftime("%d.%m." if lang == "de" else "%d/%m")))
    ticks = [Tick(y_of(v), str(v)) for v in range(0, top_value + 1, step)]
    return Chart(
        width, height, left, y_of(0), float(width - right), bars, " ".join(points), ticks, labels
    )


def _nice_step(peak: int) -> int:
    """Axis steps of 1, 2, 5, 10, 20, 50, … giving at most five intervals."""
    scale = 1
    while True:
        for base in (1, 2, 5):
            if peak <= 5 * base * scale:
                return base * scale
        scale *= 10


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/")
    @router.get("/console")
    async def dashboard(request: Request) -> Response:
        """The department head's overview: what the machine decided, what waits, for how long."""
        clerk = await require_clerk(request)
        if clerk.can(Permission.OPERATE) and not clerk.can(Permission.VIEW):
            return RedirectResponse("/console/operator", status_code=303)
        ctx = ctx_of(request)
        window = _window(request.query_params.get("window"))
        figures, trend = await run_in_threadpool(
            kpis.department_dashboard, ctx, clerk, window_days=window
        )

        def open_incidents() -> dict[str, int]:
            with Session(ctx.engine) as session:
                return incidents.open_counts(session, clerk.department)

        stuck = await run_in_threadpool(open_incidents)
        lang = language(request)
        titles = {d.id: d.title for d in department_services(ctx, clerk.department)}
        return render(
            request,
            "console/dashboard.html",
            {
                "figures": figures,
                "incidents": stuck,
                "trend": trend,
                "chart": trend_chart(trend, lang),
                "titles": titles,
                "window": window,
                "windows": WINDOWS,
                "buckets": [label for label, _first, _last in kpis.AGE_BUCKETS],
                "referral_labels": REFERRAL_LABELS,
                "court_days": kpis.COURT_DAYS,
                "fmt_duration": lambda s: fmt_duration(s, lang),
                "fmt_share": lambda v: fmt_share(v, lang),
                "locale": LOCALES[lang],
            },
        )

    @router.get("/console/kpis.csv")
    async def kpis_csv(request: Request) -> Response:
        """The KPI table as a file, for a spreadsheet or the council's papers."""
        clerk = await require_clerk(request)
        window = _window(request.query_params.get("window"))
        figures = await run_in_threadpool(
            kpis.department_figures, ctx_of(request), clerk, window_days=window
        )
        return csv_response(kpis.figures_csv(figures), f"kennzahlen-{clerk.department}.csv")

    return router
