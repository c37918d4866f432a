"""Render processes (backend/documents/pool.py): the same bytes as in the worker's thread, a
refused resource still refused, a dead render process costs no case, and no render process
outlives its worker, not even after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.documents import NoticeRenderer, RenderError
from backend.documents.pool import RenderPool
from backend.documents.render import use_layout_pool
from tests.unit.test_render import MELDE, TEMPLATE, erika_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    pool = RenderPool(2)
    pool.start()
    try:
        yield pool
    finally:
        pool.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def _gone(pids: list[int], within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_a_render_process_gives_the_same_pdf_as_the_worker_s_thread(pool: RenderPool) -> None:
    renderer = NoticeRenderer(ROOT / "services")
    use_layout_pool(None)
    in_thread = renderer.render(MELDE, TEMPLATE, erika_context())
    use_layout_pool(pool.layout)
    try:
        pids_before = pool.pids()
        in_pool = renderer.render(MELDE, TEMPLATE, erika_context())
    finally:
        use_layout_pool(None)
    assert in_pool.startswith(b"%PDF") and in_pool == in_thread
    assert len(pids_before) == 2 and os.getpid() not in pids_before


def test_a_resource_the_template_may_not_use_is_refused_in_a_render_process(
    pool: RenderPool, tmp_path: Path
) -> None:
    folder = tmp_path / "dienst"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "n.html").write_text(
        '<html><body><img src="file:///etc/passwd" alt="x"></body></html>', encoding="utf-8"
    )
    renderer = NoticeRenderer(tmp_path)
    use_layout_pool(pool.layout)
    try:
        with pytest.raises(RenderError, match="may not use"):
            renderer.render(folder, "templates/n.html", {})
    finally:
        use_layout_pool(None)


def test_a_dead_render_process_costs_no_document_and_the_pool_comes_back() -> None:
    pool = RenderPool(1)
    pool.start()
    renderer = NoticeRenderer(ROOT / "services")
    try:
        first = pool.pids()
        os.kill(first[0], signal.SIGKILL)
        assert _gone(first)
        # The render in flight falls back to this thread; the next one has a new process.
        assert renderer.render(MELDE, TEMPLATE, erika_context()).startswith(b"%PDF")
        assert renderer.render(MELDE, TEMPLATE, erika_context()).startswith(b"%PDF")
        second = pool.pids()
        assert second and second != first
    finally:
        pool.stop()
    assert _gone(second)


WORKER = """
import sys, time
sys.path.insert(0, {root!r})
from multiprocessing import forkserver
from backend.documents.pool import RenderPool
pool = RenderPool(2)
pool.start()
server = forkserver._forkserver._forkserver_pid
print(" ".join(str(p) for p in [*pool.pids(), server]), flush=True)
time.sleep(600)
"""


def test_no_render_process_outlives_its_worker_after_kill_9() -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        # Two render processes and the fork server they came from.
        pids = [int(p) for p in worker.stdout.readline().split()]
        assert len(pids) == 3 and all(_alive(pid) for pid in pids)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert _gone(pids), "render processes survived their worker"
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_stopped_pool_leaves_no_process_and_renders_in_the_thread_again() -> None:
    pool = RenderPool(2)
    pool.start()
    pids = pool.pids()
    pool.stop()
    assert _gone(pids)
    renderer = NoticeRenderer(ROOT / "services")
    assert renderer.render(MELDE, TEMPLATE, erika_context()).startswith(b"%PDF")
