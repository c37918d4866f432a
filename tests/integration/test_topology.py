"""The compose.yaml topology, run as processes: migrate once, sandbox, web x2, worker x3.

Cases are submitted over the JSON API through both web processes; every case must be decided
exactly once, by the workers only (web processes run `serve --no-worker`), with one notice,
one register entry and one mail. On PostgreSQL, as in compose.yaml; on SQLite the same
processes share one file (WAL), which the embedded default also supports, with fewer cases.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from dbos import DBOSClient
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, func, select

from backend.db import build_engine, normalise_url
from backend.domain.case_state import WITH_DECISION
from backend.engine import WORKFLOW
from backend.records.models import Case, WorkerHeartbeat
from tests.conftest import MailCatcher
from tests.integration.topologykit import (
    Citizen,
    Topology,
    check_invariants,
    drop_database,
    fresh_database,
    wait_until,
)

WEBS, WORKERS = 2, 3
ADDRESS = "erika.topology@example.org"


@pytest.fixture
def topology_db(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'topology.db'}"
        return
    parsed = make_url(normalise_url(database_url))
    url = parsed.set(database=f"{parsed.database}_topology").render_as_string(hide_password=False)
    fresh_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii")
        except OSError:
            continue
        if int(stat.rsplit(") ", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1].split()[0] != "Z"


def test_compose_topology_decides_every_case_exactly_once(
    topology_db: str, database_url: str, smtp_server: MailCatcher, tmp_path: Path
) -> None:
    cases = 24 if database_url.startswith("sqlite") else 60
    # The workers lay out notices in render processes (issue 22), as a data centre runs them.
    topology = Topology(
        topology_db,
        tmp_path,
        smtp_server.host,
        smtp_server.port,
        extra_env={"KNOPFDRUCK_RENDER_PROCESSES": "1"},
    )
    citizen = Citizen(topology)
    try:
        topology.start(webs=WEBS, workers=WORKERS)
        engine = build_engine(topology_db)

        def heartbeats() -> int:
            with Session(engine) as session:
                return int(session.exec(select(func.count()).select_from(WorkerHeartbeat)).one())

        wait_until(lambda: heartbeats() == WORKERS, 120, "three worker heartbeats")

        # Each worker starts its render pool: a fork server whose child lays out notices.
        def pools() -> bool:
            return all(
                any(_children(server) for server in _children(topology.processes[name].pid))
                for name in (f"worker-{index}" for index in range(WORKERS))
            )

        wait_until(pools, 120, "a render process per worker")
        # compose.yaml's worker health check, run as the container would run it.
        alive = subprocess.run(
            [sys.executable, "-m", "knopfdruck.cli", "check-worker"],
            env=topology.env(topology.web_url(0)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert alive.returncode == 0 and "is alive" in alive.stdout, alive.stderr
        r = citizen.call("PUT", "/me/notification-email", 0, json={"email": ADDRESS})
        assert r.status_code == 200, r.text

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(citizen.apply, [i % WEBS for i in range(cases)]))
        case_ids = [case_id for _, case_id in results]
        assert citizen.answered_by.keys() == {0, 1}, "both web processes must take submissions"
        assert min(citizen.answered_by.values()) >= cases, citizen.answered_by

        settled = [str(s) for s in WITH_DECISION]

        def decided() -> bool:
            for name in topology.dead():
                raise AssertionError(f"{name} died\n{topology.log_tail(name)}")
            with Session(engine) as session:
                done = session.exec(select(func.count()).where(col(Case.status).in_(settled))).one()
            return int(done) == cases

        wait_until(decided, 240, f"{cases} decided cases")
        # The mail queue runs after the decision; wait for the last mail to be handed over.
        wait_until(lambda: len(smtp_server.to(ADDRESS)) >= cases, 60, "a mail per case", poll_s=0.2)
        entries = httpx.get(
            f"{topology.sandbox_url}/sandbox/registries/hundesteuerregister/v1/_eintraege"
        ).json()["eintraege"]
        mail_ids = [str(m["Message-ID"]) for m in smtp_server.to(ADDRESS)]
        verdict = check_invariants(
            topology_db, case_ids, mail_ids, entries, data_dir=topology.data_dir
        )
        assert verdict.violations == [], verdict
        assert verdict.counts["mails delivered"] == cases

        # Only workers ran cases, and all three took part.
        client = DBOSClient(system_database_engine=engine, lazy=True)
        runners = Counter(
            wf.executor_id for wf in client.list_workflows(name=WORKFLOW, load_input=False)
        )
        worker_pids = {topology.processes[f"worker-{i}"].pid for i in range(WORKERS)}
        assert {int(str(executor).rsplit("-", 1)[1]) for executor in runners} == worker_pids, (
            runners
        )
        engine.dispose()

        # The operator's view agrees: `knopfdruck audit verify` over every chain.
        audit = subprocess.run(
            [sys.executable, "-m", "knopfdruck.cli", "audit", "verify"],
            env=topology.env(topology.web_url(0)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert audit.returncode == 0, audit.stderr
        assert f"{cases} case(s) checked" in audit.stdout and "0 broken" in audit.stdout

        # Workers that left: the health check reports it, and their render processes are gone.
        renderers = [
            pid
            for index in range(WORKERS)
            for server in _children(topology.processes[f"worker-{index}"].pid)
            for pid in [server, *_children(server)]
        ]
        for index in range(WORKERS):
            worker = topology.processes[f"worker-{index}"]
            worker.terminate()
            worker.wait(timeout=60)
        gone = subprocess.run(
            [sys.executable, "-m", "knopfdruck.cli", "check-worker"],
            env=topology.env(topology.web_url(0)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert gone.returncode == 1, gone.stdout
        # They end on their own once the worker is gone (pipe closed, parent-death signal, the
        # watchdog's 1 s poll), asynchronously: on a loaded CI machine that can take seconds.
        # A zombie (exited, not yet reaped by init) holds nothing and counts as gone.
        wait_until(
            lambda: not [pid for pid in renderers if _running(pid)],
            30,
            f"no render process left of {renderers}",
        )
    finally:
        citizen.close()
        topology.stop()
