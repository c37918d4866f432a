"""Operations: readiness, Prometheus metrics and structured JSON logs with correlation ids.

Metrics carry route templates, never concrete paths, so no id or personal datum becomes a
label. Case figures are read from the database at scrape time, so every web replica reports
the same truth and no worker has to push anything.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from backend.columns import aware
from backend.records.models import Case, Incident, RegistryAccess

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
WAITING_STATES = ("submitted", "processing")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the request id; messages must not carry personal data."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        case_id = getattr(record, "case_id", None)
        if case_id:
            entry["case_id"] = case_id
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Route all logging through the JSON formatter (called by the CLI, not at import)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # WeasyPrint narrates every layout step at INFO: five lines per notice drown the operator's
    # log stack. Its warnings (a missing font, a refused URL) still come through.
    for chatty in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


class CaseCollector(Collector):
    """Case and registry figures straight from the database at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        by_state = GaugeMetricFamily("knopfdruck_cases", "Cases by state", labels=["state"])
        outcomes = GaugeMetricFamily(
            "knopfdruck_decisions", "Decided cases by outcome", labels=["outcome"]
        )
        depth = GaugeMetricFamily("knopfdruck_queue_depth", "Cases waiting for the worker")
        oldest = GaugeMetricFamily(
            "knopfdruck_oldest_waiting_case_seconds", "Age of the oldest case waiting for a worker"
        )
        calls = GaugeMetricFamily(
            "knopfdruck_registry_calls", "Registry reads by outcome", labels=["registry", "outcome"]
        )
        latency = GaugeMetricFamily(
            "knopfdruck_registry_call_mean_ms", "Mean registry read time", labels=["registry"]
        )
        incidents = GaugeMetricFamily(
            "knopfdruck_incidents_open",
            "Cases that stopped moving and wait for a person (open or being retried)",
            labels=["service", "stage"],
        )
        with Session(self.engine) as session:
            for service, stage, count in session.exec(
                select(Incident.service, Incident.stage, func.count())
                .where(col(Incident.status).in_(["open", "retrying"]))
                .group_by(Incident.service, Incident.stage)
            ).all():
                incidents.add_metric([service, stage], count)
            for state, count in session.exec(
                select(Case.status, func.count()).group_by(Case.status)
            ).all():
                by_state.add_metric([state], count)
            for outcome, count in session.exec(
                select(Case.outcome, func.count())
                .where(Case.outcome.is_not(None))  # type: ignore[union-attr]
                .group_by(Case.outcome)
            ).all():
                outcomes.add_metric([str(outcome)], count)
            waiting = session.exec(
                select(func.count(), func.min(Case.submitted_at)).where(
                    Case.status.in_(WAITING_STATES)  # type: ignore[attr-defined]
                )
            ).one()
            depth.add_metric([], waiting[0])
            oldest_at = waiting[1]
            age = (datetime.now(UTC) - aware(oldest_at)).total_seconds() if oldest_at else 0.0
            oldest.add_metric([], max(age, 0.0))
            for registry, outcome, count, mean_ms in session.exec(
                select(
                    RegistryAccess.registry_id,
                    RegistryAccess.outcome,
                    func.count(),
                    func.avg(RegistryAccess.duration_ms),
                ).group_by(RegistryAccess.registry_id, RegistryAccess.outcome)
            ).all():
                calls.add_metric([registry, outcome], count)
                if outcome == "ok":
                    latency.add_metric([registry], float(mean_ms or 0))
        yield from (by_state, outcomes, depth, oldest, calls, latency, incidents)


class Observability:
    """Per-app metrics registry and request histogram; nothing is created at import."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "knopfdruck_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.registry.register(CaseCollector(engine))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class RequestContext(BaseHTTPMiddleware):
    """Gives every request an id (kept from X-Request-ID when sane) and times it by route."""

    def __init__(self, app: ASGIApp, *, observability: Observability) -> None:
        super().__init__(app)
        self.obs = observability

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        incoming = request.headers.get("x-request-id", "")
        rid = incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else secrets.token_hex(8)
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = rid
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", None) or (
                "/static" if request.url.path.startswith("/static") else "unmatched"
            )
            self.obs.requests.labels(request.method, template, str(status)).observe(
                time.perf_counter() - started
            )
            request_id_var.reset(token)


async def readiness(
    engine: Engine, client: httpx.AsyncClient, urls: dict[str, str]
) -> dict[str, str]:
    """Check the database, the durable-execution tables and every upstream service."""
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"; the kind is reported
        checks["database"] = f"failed: {type(exc).__name__}"
    try:
        table = "workflow_status" if engine.dialect.name == "sqlite" else "dbos.workflow_status"
        with engine.connect() as conn:
            conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
        checks["engine"] = "ok"
    except Exception as exc:  # missing DBOS schema: `knopfdruck db upgrade` was not run
        checks["engine"] = f"failed: {type(exc).__name__}"
    for name, url in urls.items():
        try:
            response = await client.get(url, timeout=2.0)
            checks[name] = (
                "ok" if response.status_code < 400 else f"failed: HTTP {response.status_code}"
            )
        except httpx.HTTPError as exc:
            checks[name] = f"failed: {type(exc).__name__}"
    return checks
