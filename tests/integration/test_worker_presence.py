"""Worker heartbeats: which executors count as dead, so their claimed cases are recovered."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from backend.cases.worker import WorkerPresence
from backend.columns import utcnow
from backend.db import build_engine, unit_of_work
from backend.engine import executor_id
from backend.records.models import WorkerHeartbeat
from backend.settings import Settings
from tests.integration.casekit import own_database


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    with own_database(database_url, tmp_path, "presence") as url:
        engine = build_engine(url)
        yield engine
        engine.dispose()


def _row(engine: Engine, executor: str, host: str, pid: int, age_s: float) -> None:
    with unit_of_work(engine) as session:
        seen = utcnow() - timedelta(seconds=age_s)
        session.add(
            WorkerHeartbeat(
                executor_id=executor, hostname=host, pid=pid, started_at=seen, last_seen=seen
            )
        )


def _finished_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_stale_heartbeats_and_vanished_local_processes_are_dead(engine: Engine) -> None:
    here = socket.gethostname()
    _row(engine, "other-fresh", "elsewhere", 4242, age_s=1)
    _row(engine, "other-stale", "elsewhere", 4242, age_s=31)
    _row(engine, "local-gone", here, _finished_pid(), age_s=1)
    _row(engine, "local-running", here, os.getppid(), age_s=1)
    me = WorkerPresence(engine, "me", dead_after_s=30)
    me.announce()

    assert me.dead_executors() == ["local-gone", "other-stale"]


def test_a_worker_that_stops_is_dead_to_its_peers_at_once(engine: Engine) -> None:
    leaving = WorkerPresence(engine, "leaving", dead_after_s=30)
    leaving.announce()
    peer = WorkerPresence(engine, "peer", dead_after_s=30)
    assert peer.dead_executors() == []
    leaving.stop()
    assert peer.dead_executors() == ["leaving"]
    # Its own view never declares itself dead, even with a stale row.
    assert leaving.dead_executors() == []


def test_each_process_gets_its_own_executor_id_unless_the_operator_names_it() -> None:
    unnamed = Settings(_env_file=None)
    assert executor_id(unnamed) == f"{socket.gethostname()}-{os.getpid()}"
    named = Settings(worker_id="worker-a", _env_file=None)
    assert executor_id(named) == "worker-a"
