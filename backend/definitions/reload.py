"""Dev mode for integrators: an edited definition takes effect without restarting `serve`.

Polls the modification times of everything below the services folder (cheap for a few dozen
files, and works on every file system and in containers, unlike inotify). When something
changed, the whole tree is validated again; only a tree without problems replaces the
catalogue, so an invalid edit keeps the last valid version running and its problems are shown
in the log and on /healthz. Never enabled in production: a definition is law in code and goes
live through review, not by saving a file.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from backend.definitions.catalogue import Catalogue
from backend.definitions.loader import load_tree
from prefill.connectors.registry import ConnectorRegistry

_log = logging.getLogger(__name__)

Snapshot = dict[str, int]


def snapshot(services_dir: Path) -> Snapshot:
    """Modification time (ns) of every file below the services folder, by path."""
    found: Snapshot = {}
    if not services_dir.is_dir():
        return found
    for path in services_dir.rglob("*"):
        try:
            if path.is_file():
                found[path.as_posix()] = path.stat().st_mtime_ns
        except OSError:  # removed between listing and stat: the next poll sees it
            continue
    return found


@dataclass
class ReloadStatus:
    """What integrators see on /healthz while dev mode runs."""

    reloads: int = 0
    problems: list[str] = field(default_factory=list)
    checked_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        """Problem lines name files and YAML paths, never case data, so they may be shown."""
        return {
            "dev_reload": True,
            "reloads": self.reloads,
            "status": "invalid, last valid version in use" if self.problems else "ok",
            "problems": list(self.problems),
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }


class Poller(ABC):
    """A daemon thread that calls ``check()`` every ``interval_s`` until ``stop()``; shared by
    dev mode's file watcher and the designer's catalogue follower (backend/console)."""

    name = "poller"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def check(self) -> bool:
        """One look; True when something was applied."""

    def start(self) -> None:
        """Poll in a daemon thread until stop()."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # a bug or a database hiccup must not end the polling silently
                _log.exception("%s check failed", self.name)


class DefinitionReloader(Poller):
    """Watches the services folder and hands each new valid catalogue to ``apply``."""

    name = "definition-reload"

    def __init__(
        self,
        services_dir: Path,
        connectors: ConnectorRegistry,
        apply: Callable[[Catalogue], None],
        *,
        interval_s: float = 1.0,
        also_watch: Sequence[Path] = (),
        accept: Callable[[Catalogue], list[str]] | None = None,
    ) -> None:
        super().__init__(interval_s)
        self.services_dir = services_dir
        self.connectors = connectors
        self.apply = apply
        self.status = ReloadStatus()
        self.also_watch = tuple(also_watch)
        """Further folders whose edits reload too (the tenants, whose overlays use templates)."""
        self.accept = accept
        """A last check of a new catalogue (e.g. every tenant's overlays against it); problems
        keep the last valid version, like a broken definition does."""
        self._seen = self._snapshot()

    def _snapshot(self) -> Snapshot:
        found = snapshot(self.services_dir)
        for folder in self.also_watch:
            found |= snapshot(folder)
        return found

    def check(self) -> bool:
        """Reload if any file changed; True when a new catalogue was applied."""
        current = self._snapshot()
        self.status.checked_at = datetime.now(UTC)
        if current == self._seen:
            return False
        self._seen = current
        loaded, problems = load_tree(self.services_dir, self.connectors)
        if problems:
            self.status.problems = problems
            _log.error(
                "service definitions changed but are invalid; keeping the last valid version:\n%s",
                "\n".join(problems),
            )
            return False
        try:
            catalogue = Catalogue(loaded)
        except ValueError as exc:
            self.status.problems = [str(exc)]
            _log.error("service definitions not reloaded: %s", exc)
            return False
        refused = self.accept(catalogue) if self.accept is not None else []
        if refused:
            self.status.problems = refused
            _log.error(
                "definitions or tenants changed but are invalid; keeping the last valid version:"
                "\n%s",
                "\n".join(refused),
            )
            return False
        self.apply(catalogue)
        self.status.problems = []
        self.status.reloads += 1
        _log.warning(
            "service definitions reloaded (dev mode): %s",
            ", ".join(f"{d.id}@{d.version}" for d in catalogue.all()),
        )
        return True
