"""Admission control: under peak load, say "come back at <time>" at once instead of timing out.

Two limits guard intake (docs/operations.md, "Admission control"):

- **queue depth**: cases submitted but not yet taken up or decided by a worker, read from the
  database (every web replica sees the same number), cached for ``admission_check_interval_s``
  so a rush of submissions does not become a rush of COUNT queries;
- **submissions in flight** in this web process: more than the database can take at once only
  queue up in the connection pool until the load balancer times them out.

Only the submit is refused, never the start or the saving of a draft: a refused citizen keeps
the draft with everything entered and submits it later (drafts expire only as they always do).
The answer names a time: the wait is estimated from how fast the workers decided cases in the
last five minutes, never less than ``admission_retry_after_s``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.columns import utcnow
from backend.errors import ServiceUnavailable
from backend.records.models import Case
from backend.settings import Settings

log = logging.getLogger("knopfdruck.admission")

WAITING_STATES = ("submitted", "processing")
"""A case in these states still needs a worker: the intake backlog."""
RATE_WINDOW = timedelta(minutes=5)
MAX_WAIT_S = 6 * 3600
"""Never tell a citizen to come back later than this, however slow the estimate."""


class Busy(ServiceUnavailable):
    """Intake is above capacity: come back at ``come_back_at``; the draft is kept."""

    code = "busy"

    def __init__(self, reason: str, retry_after_s: int, now: datetime | None = None) -> None:
        super().__init__(
            "Gerade gehen sehr viele Anträge ein. Ihr Antrag ist gespeichert; bitte senden Sie "
            "ihn später ab. (Very many applications are arriving right now. Your application "
            "is saved; please submit it later.)"
        )
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.come_back_at = (now or utcnow()) + timedelta(seconds=retry_after_s)


def estimated_wait_s(excess: int, decided_in_window: int, floor_s: int) -> int:
    """Backlog over the recent decision rate, never below the floor nor above MAX_WAIT_S.

    No decision in the window (workers stopped, or just started): the floor, since a rate of
    zero predicts nothing.
    """
    floor = max(1, floor_s)
    if decided_in_window <= 0:
        return floor
    per_second = decided_in_window / RATE_WINDOW.total_seconds()
    return int(min(MAX_WAIT_S, max(floor, math.ceil(max(0, excess) / per_second))))


class AdmissionControl:
    """Per web process: the in-flight count, and the cached reading of the shared queue depth."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._lock = threading.Lock()
        self._in_flight = 0
        self._depth = 0
        self._depth_read_at = -math.inf

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def queue_depth(self) -> int:
        """Cases waiting for a worker; read at most once per check interval."""
        now = time.monotonic()
        if now - self._depth_read_at < self.settings.admission_check_interval_s:
            return self._depth
        with Session(self.engine) as session:
            depth = int(
                session.exec(select(func.count()).where(col(Case.status).in_(WAITING_STATES))).one()
            )
        self._depth, self._depth_read_at = depth, now
        return depth

    def retry_after_s(self, excess: int) -> int:
        """How long until the workers have worked off ``excess`` cases at their recent pace."""
        with Session(self.engine) as session:
            decided = int(
                session.exec(
                    select(func.count()).where(col(Case.decided_at) >= utcnow() - RATE_WINDOW)
                ).one()
            )
        return estimated_wait_s(excess, decided, self.settings.admission_retry_after_s)

    def check_queue(self) -> None:
        limit = self.settings.admission_max_queue_depth
        if limit <= 0:
            return
        depth = self.queue_depth()
        if depth >= limit:
            log.warning("admission: queue depth %d at limit %d, submission deferred", depth, limit)
            raise Busy("queue_depth", self.retry_after_s(depth - limit + 1))

    @contextmanager
    def submission(self, already_submitted: Callable[[], bool] | None = None) -> Iterator[None]:
        """Hold one submission slot, or raise Busy at once; both limits apply.

        ``already_submitted`` is asked only when the answer would be Busy: a retried submit of
        an application that already has its case (its first answer was lost) adds no work and
        gets its case, not a "come back later".
        """
        limit = self.settings.admission_max_inflight_submits
        with self._lock:
            full = 0 < limit <= self._in_flight
            if not full:
                self._in_flight += 1
        if full:
            if already_submitted is not None and already_submitted():
                yield
                return
            log.warning("admission: %d submissions in flight, one deferred", limit)
            raise Busy("in_flight", max(1, self.settings.admission_retry_after_s))
        try:
            try:
                self.check_queue()
            except Busy:
                if already_submitted is None or not already_submitted():
                    raise
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def has_case(self, application_id: str) -> bool:
        with Session(self.engine) as session:
            found = session.exec(
                select(Case.id).where(col(Case.application_id) == application_id)
            ).first()
        return found is not None


def admission_of(request: Request) -> AdmissionControl:
    """The web process's admission control, set up by create_app."""
    admission: AdmissionControl = request.app.state.admission
    return admission


def admitted_submission(request: Request) -> Iterator[None]:
    """Route dependency: the request holds a submission slot while it runs."""
    admission = admission_of(request)
    application_id = str(request.path_params.get("application_id", ""))
    with admission.submission(lambda: admission.has_case(application_id)):
        yield


AdmittedDep = Annotated[None, Depends(admitted_submission)]


def retry_after_headers(exc: Busy) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after_s), "Cache-Control": "no-store"}


def problem_response(exc: Busy) -> Response:
    """RFC 9457 problem details with Retry-After (RFC 9110 § 10.2.3), for the JSON API."""
    body: dict[str, Any] = {
        "type": "https://knopfdruck.invalid/problems/busy",
        "title": "Intake above capacity",
        "status": 503,
        "detail": exc.message,
        "error": exc.code,
        "message": exc.message,
        "reason": exc.reason,
        "retry_after_s": exc.retry_after_s,
        "come_back_at": exc.come_back_at.isoformat(timespec="seconds"),
        "draft_kept": True,
    }
    return JSONResponse(
        body,
        status_code=503,
        media_type="application/problem+json",
        headers=retry_after_headers(exc),
    )


def install_admission(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Give the app its admission control and answer Busy as problem JSON (the API's case;
    the portal catches Busy where it submits and shows its own page)."""
    app.state.admission = AdmissionControl(settings, engine)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> Response:
        return problem_response(exc)
