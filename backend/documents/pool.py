"""Notice layout in render processes, one per core, so a worker's renders use every core.

Why (issue 22): WeasyPrint's layout and PDF output are most of a case's CPU time and hold the
interpreter lock, so a worker's threads render one at a time: 1 process × 2 threads gave 5.7
renders/s, 2 processes 11.3/s on the 2-core machine. A worker with a pool makes the markup in
its own threads (Jinja, QR code, signature: cheap) and sends only the finished markup to a
render process, which lays it out with the stylesheet and fonts it loaded once at start and
returns the PDF bytes. The bytes are the same as in-process (tests/unit/test_render_pool.py).

Processes come from a fork server started before the worker's threads (fork from a threaded
process is unsafe); each render process is single-threaded apart from a watchdog, freezes its
start-up heap out of the garbage collector's way, and ends itself when the worker is gone,
also after `kill -9` (Linux: the kernel's parent-death signal; elsewhere the watchdog), so no
render process outlives its worker. A render process that dies (out of memory, a crash) breaks
the pool: the render in flight is done in the worker's thread instead and a new pool is
started, so no case waits on a broken pool.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from weasyprint import CSS
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError

from backend.documents.render import (
    SHARED_TEMPLATES_DIR,
    ResourceUse,
    layout_pdf,
    shared_stylesheet,
    use_layout_pool,
)

_log = logging.getLogger(__name__)
LAYOUT_TIMEOUT_S = 120.0
"""A layout that takes longer is treated like a dead render process."""
_PR_SET_PDEATHSIG = 1

# --- in a render process ---------------------------------------------------------------------


@dataclass
class _Loaded:
    """What a render process loads once: the shared templates folder, stylesheet and fonts."""

    shared: Path
    stylesheet: CSS
    fonts: FontConfiguration


_child: list[_Loaded] = []


def _die_with(parent_pid: int) -> None:
    """End this render process when the worker that started it is gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="render-watchdog", daemon=True).start()


def _start(parent_pid: int, shared_dir: str) -> None:
    """Load the stylesheet and fonts once, then keep the long-lived heap out of GC passes."""
    _die_with(parent_pid)
    # A render process must not act on the worker's signals; the worker shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    shared = Path(shared_dir)
    _child.append(_Loaded(shared, shared_stylesheet(shared), FontConfiguration()))
    gc.collect()
    gc.freeze()


def _layout(markup: str, templates_dir: str) -> bytes:
    """One layout in a render process; a refused resource comes back as its text only."""
    try:
        loaded = _child[-1]
        return layout_pdf(
            markup, Path(templates_dir), loaded.shared, loaded.stylesheet, loaded.fonts
        )
    except FatalURLFetchingError as exc:
        raise ResourceUse(str(exc.__cause__ or exc)) from None


# --- in the worker ---------------------------------------------------------------------------


class RenderPool:
    """The worker's render processes; started with `start`, ended with `stop`."""

    def __init__(self, processes: int, shared_dir: Path = SHARED_TEMPLATES_DIR) -> None:
        self.processes = max(1, processes)
        self.shared_dir = shared_dir.resolve()
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        # The fork server imports WeasyPrint once; every render process forks from it.
        context.set_forkserver_preload([__name__])
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=context,
            initializer=_start,
            initargs=(os.getpid(), str(self.shared_dir)),
        )

    def start(self) -> None:
        """Start the processes now, so the first case does not wait for them."""
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()
                # Start them all: a pool starts processes lazily, and a case should not wait.
                futures = [self._executor.submit(os.getpid) for _ in range(self.processes)]
                concurrent.futures.wait(futures, timeout=LAYOUT_TIMEOUT_S)
        use_layout_pool(self.layout)

    def stop(self) -> None:
        """Stop routing layouts here and end the processes (waiting for those in flight)."""
        use_layout_pool(None)
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def pids(self) -> list[int]:
        """The render processes' ids, for health checks and the tests that prove none is left."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(int(pid) for pid in processes)

    def layout(self, markup: str, templates_dir: Path, shared_dir: Path) -> bytes | None:
        """The PDF from a render process, or None when this pool cannot do it (another shared
        templates folder, or a broken pool: then the caller lays it out in its own thread)."""
        if shared_dir.resolve() != self.shared_dir:
            return None
        with self._lock:
            executor = self._executor
        if executor is None:
            return None
        try:
            return executor.submit(_layout, markup, str(templates_dir)).result(
                timeout=LAYOUT_TIMEOUT_S
            )
        except (BrokenProcessPool, concurrent.futures.TimeoutError) as exc:
            _log.warning(
                "render pool: %s; this layout runs in the worker, a new pool starts",
                type(exc).__name__,
            )
            self._replace(executor)
            return None

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken:
                return
            self._executor = self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)
