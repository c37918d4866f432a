"""A background task a worker process runs every so often (staff directory, work mails)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("knopfdruck.periodic")


class Periodic:
    """Calls `task` every `interval_s` seconds on a daemon thread until stopped; an error is
    logged by type only (messages may hold personal data) and the next run tries again."""

    def __init__(
        self, name: str, interval_s: float, task: Callable[[], object], *, first_s: float = 0
    ) -> None:
        self.name, self.interval_s, self.task = name, interval_s, task
        self.first_s = first_s or interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"knopfdruck-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        wait = min(self.first_s, self.interval_s)
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                self.task()
            except Exception as exc:  # never a crashed worker
                log.warning("%s failed: %s", self.name, type(exc).__name__)
