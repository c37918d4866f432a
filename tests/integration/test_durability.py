"""Kill -9 the worker while it processes cases; after a restart every case is done exactly once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from backend.auth.tokens import Identity
from backend.cases import applications as apps
from backend.cases import submission
from backend.context import build_context
from backend.crypto import keys_for
from backend.db import normalise_url
from backend.migrate import upgrade_database
from backend.records.audit import verify_all_chains
from backend.records.models import Case, CaseEvent, Document
from backend.settings import Settings
from sandbox.personas import persona_by_id
from tests.conftest import ROOT, Platform
from tests.livesrv import TEST_SETTINGS, process_env

CASES = 30


@pytest.fixture
def own_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own, so the live platform's in-process worker does not take these cases."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'durability.db'}"
        return
    url = make_url(normalise_url(database_url))
    name = f"{url.database}_durability"
    admin = create_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _start_worker(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = process_env(
        KNOPFDRUCK_DATABASE_URL=url,
        KNOPFDRUCK_DATA_DIR=str(data_dir),
        KNOPFDRUCK_SERVICES_DIR=str(ROOT / "services"),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "knopfdruck.cli", "worker", "--concurrency", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _decided(session: Session) -> int:
    # "notified" is the last state of an automated decision (decided, and the citizen told).
    return int(session.exec(select(func.count()).where(Case.status == "notified")).one())


def test_kill_9_mid_processing_loses_and_duplicates_nothing(
    platform: Platform, own_database: str, tmp_path: Path
) -> None:
    upgrade_database(own_database)
    settings = Settings(
        base_url=platform.base_url,
        data_dir=tmp_path,
        # The key ring is process-wide: keep the platform's keys (tests/integration/casekit.py).
        field_encryption_keys=",".join(
            k.decode("ascii")
            for k in keys_for(platform.settings.field_encryption_keys, platform.settings.data_dir)
        ),
        database_url=own_database,
        services_dir=ROOT / "services",
        worker_in_process=False,
        registry_base_url=platform.settings.registry_base_url,
        **TEST_SETTINGS,
    )
    ctx = build_context(settings)
    erika = persona_by_id("erika")
    assert erika is not None
    identity = Identity(sub=erika.sub, name=erika.name, trust_level="hoch", idnr=erika.idnr)

    async def start_all() -> list[str]:
        ids = []
        for _ in range(CASES):
            ids.append((await apps.start_application(ctx, identity, "meldebescheinigung")).id)
        await ctx.http.aclose()
        return ids

    # Own thread: Playwright's sync API may have left an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        application_ids = pool.submit(asyncio.run, start_all()).result()
    case_ids = [submission.submit_application(ctx, identity, a).id for a in application_ids]
    assert len(set(case_ids)) == CASES

    worker = _start_worker(own_database, tmp_path)
    deadline = time.monotonic() + 60
    with Session(ctx.engine) as session:
        while _decided(session) == 0:
            assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker decided nothing within 60 s"
            time.sleep(0.05)
            session.expire_all()
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    with Session(ctx.engine) as session:
        done_at_kill = _decided(session)
    assert done_at_kill < CASES, "all cases finished before the kill: the test proved nothing"

    restarted = _start_worker(own_database, tmp_path)
    try:
        deadline = time.monotonic() + 120
        with Session(ctx.engine) as session:
            while _decided(session) < CASES:
                assert restarted.poll() is None, "restarted worker died"
                assert time.monotonic() < deadline, f"only {_decided(session)} of {CASES} decided"
                time.sleep(0.1)
                session.expire_all()
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)

    with Session(ctx.engine) as session:
        assert int(session.exec(select(func.count()).select_from(Case)).one()) == CASES
        docs = Counter(session.exec(select(Document.case_id)).all())
        assert sorted(docs) == sorted(case_ids) and set(docs.values()) == {1}
        events = Counter((e.case_id, e.type) for e in session.exec(select(CaseEvent)).all())
        for cid in case_ids:
            for kind in (
                "submitted",
                "processing_started",
                "decided",
                "document_issued",
                "case_decided",
                "citizen_notified",
            ):
                assert events[(cid, kind)] == 1, (cid, kind, events[(cid, kind)])
        reports = verify_all_chains(session)
        assert len(reports) == CASES and all(r.ok for r in reports)
    ctx.close()
    print(f"decided before kill: {done_at_kill}/{CASES}; after restart: {CASES}/{CASES}")
