"""The dashboard's figures as a spreadsheet: the CSV download of the console and the API."""

from __future__ import annotations

import csv
import io

from backend.console.kpis.figures import DepartmentKpis

CSV_COLUMNS = (
    "service",
    "cases_today",
    "cases_week",
    "cases_month",
    "decided",
    "automated",
    "automation_rate",
    "median_s_automated",
    "p95_s_automated",
    "median_s_manual",
    "p95_s_manual",
    "referrals",
    "referral_reasons",
    "backlog_open",
    "backlog_oldest_days",
    "awaiting_citizen",
    "sla_days",
    "sla_breaches",
    "over_court_limit",
    "qa_reviewed",
    "qa_overturned",
    "qa_overturn_rate",
)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def figures_csv(figures: DepartmentKpis) -> str:
    """The KPI table as CSV (RFC 4180, comma, dot decimals) for a spreadsheet or the council."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in [*figures.services, figures.total]:
        writer.writerow(
            [
                row.service,
                row.cases_today,
                row.cases_week,
                row.cases_month,
                row.decided,
                row.automated,
                _num(row.automation_rate),
                _num(row.time_automated.median_s),
                _num(row.time_automated.p95_s),
                _num(row.time_manual.median_s),
                _num(row.time_manual.p95_s),
                row.referrals,
                "; ".join(f"{code}={n}" for code, n in row.referral_reasons.items()),
                row.backlog.open,
                "" if row.backlog.oldest_days is None else row.backlog.oldest_days,
                row.backlog.awaiting_citizen,
                figures.sla_days,
                row.sla_breaches,
                row.backlog.over_court_limit,
                row.qa.reviewed,
                row.qa.overturned,
                _num(row.qa.overturn_rate),
            ]
        )
    return out.getvalue()
