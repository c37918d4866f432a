"""The durable write-back path in a real worker process: one child workflow per write-back,
paced by the register's rate limit across workers, and idempotent when run again."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from dbos import EnqueueOptions
from sqlmodel import Session, col, func, select

from backend.cases.writeback import writeback_key
from backend.domain.case_state import WITH_DECISION
from backend.engine import APP_VERSION, WRITEBACK_WORKFLOW
from backend.records.models import Case
from tests.conftest import Platform
from tests.integration.casekit import context_for, own_database, submit_cases
from tests.integration.writeback_worker import QUEUE, WORKFLOW
from tests.livesrv import process_env

CASES = 12
RATE = 4  # write-backs per register and second
DOG = {"hundename": "Rex", "rasse": "Dackel"}


def _settled(session: Session, case_ids: list[str]) -> int:
    statuses = [str(s) for s in WITH_DECISION]
    return int(
        session.exec(
            select(func.count()).where(col(Case.id).in_(case_ids), col(Case.status).in_(statuses))
        ).one()
    )


def test_run_writebacks_writes_each_case_once_within_the_register_rate_limit(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    with own_database(database_url, tmp_path, "wbdurable") as url:
        ctx = context_for(platform, url, tmp_path)
        env = process_env(
            KNOPFDRUCK_DATABASE_URL=url,
            KNOPFDRUCK_DATA_DIR=str(tmp_path),
            KNOPFDRUCK_SERVICES_DIR=str(platform.settings.services_dir),
            KNOPFDRUCK_BASE_URL=platform.base_url,
            KNOPFDRUCK_REGISTRY_WRITE_RATE=str(RATE),
            KNOPFDRUCK_REGISTRY_WRITE_PERIOD_S="1",
        )
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.writeback_worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            case_ids = submit_cases(ctx, "hundeanmeldung", [DOG] * CASES)
            deadline = time.monotonic() + 120
            with Session(ctx.engine) as session:
                while _settled(session, case_ids) < CASES:
                    assert worker.poll() is None, log.read_text()[-3000:]
                    assert time.monotonic() < deadline, "cases not decided in time"
                    time.sleep(0.1)
            ctx.dbos_client.register_queue(QUEUE, polling_interval_sec=0.1)

            def run_all(round_: int) -> dict[str, list[str]]:
                handles: dict[str, Any] = {}
                for case_id in case_ids:
                    options: EnqueueOptions = {
                        "queue_name": QUEUE,
                        "workflow_name": WORKFLOW,
                        "workflow_id": f"test-{round_}-{case_id}",
                        "app_version": APP_VERSION,
                    }
                    handles[case_id] = ctx.dbos_client.enqueue(options, case_id)
                return {cid: h.get_result(polling_interval_sec=0.1) for cid, h in handles.items()}

            first = run_all(1)
            again = run_all(2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)

        entries = httpx.get(
            f"{platform.settings.registry_base_url}/hundesteuerregister/v1/_eintraege"
        ).json()["eintraege"]
        mine = [e for e in entries if e["case_id"] in set(case_ids)]
        assert Counter(e["case_id"] for e in mine) == Counter(case_ids)
        by_case = {e["case_id"]: e["record_id"] for e in mine}
        assert first == again == {cid: [by_case[cid]] for cid in case_ids}

        children = ctx.dbos_client.list_workflows(name=WRITEBACK_WORKFLOW, load_input=False)
        assert {c.workflow_id for c in children} == {writeback_key(cid, 0) for cid in case_ids}
        assert {c.queue_partition_key for c in children} == {"hundesteuerregister"}
        # The register's rate limit held: never more than RATE starts in any one second.
        starts = sorted(c.dequeued_at for c in children if c.dequeued_at is not None)
        assert len(starts) == CASES
        busiest = max(sum(1 for s in starts if first_ <= s < first_ + 1000) for first_ in starts)
        assert busiest <= RATE, f"{busiest} write-backs started within one second"
        ctx.close()
