"""Scale-out: several `knopfdruck worker` processes share one database; kill -9 one of them.

Every case must end decided exactly once, with one notice, one register entry, at most one
mail and no event twice; the dead worker's claimed cases are recovered by the others. On
PostgreSQL three workers run; on SQLite (one file, one machine) two.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from dbos import DBOSClient
from sqlmodel import Session, col, func, select

from backend.context import AppContext
from backend.domain.case_state import WITH_DECISION
from backend.engine import COMPLETE_WORKFLOW, WORKFLOW
from backend.notifications.models import EmailOutbox, MailboxMessage
from backend.notifications.service import set_address
from backend.records.audit import verify_all_chains
from backend.records.models import Case, CaseEvent, Document, WorkerHeartbeat
from tests.conftest import MailCatcher, Platform
from tests.integration.casekit import context_for, identity, own_database, submit_cases
from tests.livesrv import process_env

CASES = 300
SERVICE = "hundeanmeldung"
DOG = {"hundename": "Bello", "rasse": "Labrador"}
ADDRESS = "erika.scaleout@example.org"
# Longest time without a single case decided before the test calls the cases stuck: well above
# the dead-worker timeout (5 s) plus DBOS recovery, far below any real hang.
STALL_S = 90


@pytest.fixture
def scaleout_db(database_url: str, tmp_path: Path) -> Iterator[str]:
    with own_database(database_url, tmp_path, "scaleout") as url:
        yield url


def _start_worker(
    platform: Platform, url: str, data_dir: Path, smtp: MailCatcher
) -> subprocess.Popen[bytes]:
    env = process_env(
        KNOPFDRUCK_DATABASE_URL=url,
        KNOPFDRUCK_DATA_DIR=str(data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(platform.settings.services_dir),
        KNOPFDRUCK_BASE_URL=platform.base_url,
        KNOPFDRUCK_SMTP_HOST=smtp.host,
        KNOPFDRUCK_SMTP_PORT=str(smtp.port),
        KNOPFDRUCK_WORKER_DEAD_AFTER_S="5",
    )
    # A file, not a pipe: nobody reads a pipe while the test waits, and a full one blocks.
    log = (data_dir / f"worker-{len(list(data_dir.glob('worker-*.log')))}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "knopfdruck.cli", "worker", "--concurrency", "4"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    LOGS[process.pid] = Path(log.name)
    return process


LOGS: dict[int, Path] = {}


def _executor(process: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}-{process.pid}"


def _settled(session: Session) -> int:
    statuses = [str(s) for s in WITH_DECISION]
    return int(session.exec(select(func.count()).where(col(Case.status).in_(statuses))).one())


def _unfinished(client: DBOSClient) -> int:
    return len(client.list_workflows(status=["ENQUEUED", "PENDING"], load_input=False))


def _why_not_settled(ctx: AppContext, client: DBOSClient, settled: int) -> str:
    """Which cases are not decided, what their workflows say, and what the workers logged."""
    statuses = [str(s) for s in WITH_DECISION]
    with Session(ctx.engine) as session:
        open_cases = session.exec(
            select(Case.id, Case.status, Case.waiting_for).where(col(Case.status).notin_(statuses))
        ).all()
    lines = [f"only {settled} of {CASES} cases decided"]
    for case_id, status, waiting in open_cases[:5]:
        flows = client.list_workflows(
            workflow_id_prefix=f"case-{case_id}", load_input=False, load_output=True
        )
        lines.append(
            f"case {case_id} {status} ({waiting}): "
            + ", ".join(f"{wf.workflow_id} {wf.status} {wf.output or wf.error}" for wf in flows)
        )
    # All decided, yet a workflow has not finished: which one, on which worker.
    for wf in client.list_workflows(status=["ENQUEUED", "PENDING"], load_input=False)[:5]:
        lines.append(f"unfinished: {wf.workflow_id} {wf.name} {wf.status} on {wf.executor_id}")
    for path in LOGS.values():
        errors = [ln for ln in path.read_text(errors="replace").splitlines() if "rror" in ln]
        lines.extend(errors[-3:])
    return "\n".join(lines)


def _stderr(process: subprocess.Popen[bytes]) -> str:
    """The end of a dead worker's log, to explain why it died."""
    text = LOGS[process.pid].read_text(errors="replace")
    return f"worker {process.pid} exited with {process.returncode}:\n{text[-3000:]}"


def _kill_the_busiest_when_all_are_busy(
    ctx: AppContext,
    client: DBOSClient,
    workers: list[subprocess.Popen[bytes]],
    count: int,
) -> tuple[subprocess.Popen[bytes], int]:
    """SIGKILL the worker holding most claimed cases, once every worker is busy and a tenth
    of the cases is decided; returns it and how many case workflows it held."""
    deadline = time.monotonic() + 300
    while True:
        for w in workers:
            assert w.poll() is None, _stderr(w)
        with Session(ctx.engine) as session:
            settled = _settled(session)
        pending = Counter(
            wf.executor_id
            for name in (WORKFLOW, COMPLETE_WORKFLOW)
            for wf in client.list_workflows(status="PENDING", name=name, load_input=False)
        )
        victim = max(workers, key=lambda w: pending[_executor(w)])
        held = pending[_executor(victim)]
        if settled >= CASES // 10 and held > 0 and len(pending) == count:
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            return victim, held
        assert time.monotonic() < deadline, f"workers not all busy: {settled=} {pending=}"
        time.sleep(0.05)


def test_kill_9_one_of_several_workers_and_every_case_is_done_exactly_once(
    platform: Platform,
    smtp_server: MailCatcher,
    scaleout_db: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    ctx: AppContext = context_for(
        platform, scaleout_db, tmp_path, smtp_host=smtp_server.host, smtp_port=smtp_server.port
    )
    erika = identity()
    with Session(ctx.engine) as session:
        set_address(session, erika, ADDRESS)
        session.commit()
    mails_before = len(smtp_server.to(ADDRESS))
    count = 2 if database_url.startswith("sqlite") else 3
    started = time.monotonic()
    workers = [_start_worker(platform, scaleout_db, tmp_path, smtp_server) for _ in range(count)]
    client = ctx.dbos_client
    # Citizens keep submitting while the workers work, as they would.
    with ThreadPoolExecutor(1) as submitter:
        submitted = submitter.submit(submit_cases, ctx, SERVICE, [DOG] * CASES, erika)
        try:
            victim, held = _kill_the_busiest_when_all_are_busy(ctx, client, workers, count)
            case_ids = submitted.result()
            print(f"submitted {CASES} cases in {time.monotonic() - started:.1f} s")
            assert len(set(case_ids)) == CASES
            survivors = [w for w in workers if w is not victim]
            with Session(ctx.engine) as session:
                settled_at_kill = _settled(session)
            assert settled_at_kill < CASES, "all cases were done before the kill: it proved nothing"

            # Stuck, not slow, is the failure: the survivors must keep deciding cases. On a
            # loaded 2-core CI machine (both database passes side by side) one SQLite worker
            # decides about one case a second, so a fixed deadline measured the load, not
            # recovery; the test fails when no case is decided for STALL_S seconds.
            progress_at, last = time.monotonic(), -1
            while True:
                for w in survivors:
                    assert w.poll() is None, _stderr(w)
                with Session(ctx.engine) as session:
                    settled = _settled(session)
                if settled == CASES and _unfinished(client) == 0:
                    break
                if settled != last:
                    progress_at, last = time.monotonic(), settled
                assert time.monotonic() - progress_at < STALL_S, _why_not_settled(
                    ctx, client, settled
                )
                time.sleep(0.2)
            print(f"all done after {time.monotonic() - started:.1f} s")
        finally:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
            for w in workers:
                w.wait(timeout=30)

    with Session(ctx.engine) as session:
        # The dead worker's claims were handed back and its heartbeat removed.
        assert (
            client.list_workflows(status="PENDING", executor_id=_executor(victim), load_input=False)
            == []
        )
        heartbeats = session.exec(select(WorkerHeartbeat.executor_id)).all()
        assert _executor(victim) not in heartbeats

        cases = session.exec(select(Case).where(col(Case.id).in_(case_ids))).all()
        assert {c.status for c in cases} <= {str(s) for s in WITH_DECISION}
        assert {c.outcome for c in cases} == {"approved"}
        notices = Counter(session.exec(select(Document.case_id)).all())
        assert set(notices) == set(case_ids) and set(notices.values()) == {1}

        events = session.exec(select(CaseEvent.case_id, CaseEvent.type)).all()
        by_case: dict[str, Counter[str]] = {cid: Counter() for cid in case_ids}
        for case_id, kind in events:
            by_case[case_id][kind] += 1
        for case_id, kinds in by_case.items():
            repeated = {k: n for k, n in kinds.items() if n != 1}
            assert repeated == {}, (case_id, repeated)
            required = {"submitted", "decided", "registry_written", "case_decided"}
            assert required <= set(kinds), (case_id, kinds)
        reports = verify_all_chains(session)
        assert len(reports) == CASES and all(r.ok for r in reports)

        messages = Counter(session.exec(select(MailboxMessage.case_id)).all())
        assert set(messages) == set(case_ids) and set(messages.values()) == {1}
        outbox = session.exec(select(EmailOutbox.id, EmailOutbox.status)).all()
        assert len(outbox) == CASES

    entries = httpx.get(
        f"{platform.settings.registry_base_url}/hundesteuerregister/v1/_eintraege"
    ).json()["eintraege"]
    written = Counter(e["case_id"] for e in entries if e["case_id"] in set(case_ids))
    assert set(written) == set(case_ids) and set(written.values()) == {1}

    # Mail is at most once by design (SMTP cannot deduplicate): a mail the victim was sending
    # at the kill may be lost, never sent twice.
    mails = smtp_server.to(ADDRESS)[mails_before:]
    keys = Counter(next(o for o, _ in outbox if o in str(m["Message-ID"])) for m in mails)
    assert set(keys.values()) <= {1}, "a mail was sent twice"
    sent = {o for o, status in outbox if status == "sent"}
    assert sent <= set(keys), "a mail recorded as sent never arrived"
    # The victim may have been killed after handing a mail over and before recording it
    # ("sending" stays), or before handing it over (lost); its mail queue holds at most 4.
    lost = CASES - len(keys)
    in_doubt = len(set(keys) - sent)
    assert lost + in_doubt <= 4, f"{lost} lost and {in_doubt} unrecorded mails: too many"
    ctx.close()
    print(
        f"{count} workers, {CASES} cases; decided before the kill: {settled_at_kill}; "
        f"claimed by the victim: {held}; mails lost in the kill: {lost}, "
        f"delivered but not recorded: {in_doubt}"
    )
