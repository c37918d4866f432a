"""Helpers for tests that need cases in a database of their own, made by the real service layer.

The live platform's in-process worker processes every case in the shared test database at
once; tests that must control a case's state (or run their own workers) use their own database
and reach the platform only over HTTP (sandbox registries, IdP, FIT-Connect destination).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from backend.auth.tokens import Identity
from backend.cases import applications as apps
from backend.cases import submission
from backend.context import AppContext, build_context
from backend.crypto import keys_for
from backend.db import normalise_url, unit_of_work
from backend.domain.case_state import CaseStatus
from backend.handover.credentials import SANDBOX_CA_FILE, sandbox_fitconnect
from backend.migrate import upgrade_database
from backend.records.models import Case, CaseEvent
from backend.rules.evaluate import decide
from backend.settings import Settings
from sandbox.personas import persona_by_id
from tests.conftest import Platform
from tests.livesrv import TEST_SETTINGS


@contextmanager
def own_database(database_url: str, tmp_path: Path, suffix: str) -> Iterator[str]:
    """A migrated database next to the platform's: a SQLite file, or a PostgreSQL database."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / f'{suffix}.db'}"
        upgrade_database(url)
        yield url
        return
    parsed = make_url(normalise_url(database_url))
    name = f"{parsed.database}_{suffix}"
    admin = create_engine(
        parsed.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = parsed.set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def context_for(
    platform: Platform, database_url: str, data_dir: Path, **overrides: Any
) -> AppContext:
    """An AppContext on our own database that reaches the platform's sandbox over HTTP."""
    # A sender of the platform's sandbox FIT-Connect, logged in with its client.
    fitconnect = sandbox_fitconnect(platform.settings)
    # The field-encryption key ring is process-wide and the newest configured key encrypts: a
    # context with a key of its own would make the platform in this process seal with a key
    # its CLI processes (export-case, retention) cannot read. Use the platform's keys.
    keys = keys_for(platform.settings.field_encryption_keys, platform.settings.data_dir)
    values: dict[str, Any] = {
        "field_encryption_keys": ",".join(k.decode("ascii") for k in keys),
        "handover_client_id": fitconnect.client_id,
        "handover_client_secret": fitconnect.client_secret,
        # The sandbox's CA is in the platform's data_dir, not in this context's.
        "handover_trust_anchors": str(platform.settings.data_dir / SANDBOX_CA_FILE),
        "base_url": platform.base_url,
        "data_dir": data_dir,
        "database_url": database_url,
        "services_dir": platform.settings.services_dir,
        "worker_in_process": False,
        "registry_base_url": platform.settings.registry_base_url,
        "handover_base_url": platform.settings.handover_base_url,
        **TEST_SETTINGS,  # another process of the platform's installation: its sandbox is on
        **overrides,
    }
    settings = Settings(_env_file=None, **values)
    return build_context(settings)


def identity(persona_id: str = "erika") -> Identity:
    persona = persona_by_id(persona_id)
    assert persona is not None
    return Identity(
        sub=persona.sub, name=persona.name, trust_level=persona.trust_level, idnr=persona.idnr
    )


def submit_cases(
    ctx: AppContext,
    service: str,
    answers: list[dict[str, Any]],
    who: Identity | None = None,
    before_submit: Callable[[str], None] | None = None,
) -> list[str]:
    """Start (prefilled over HTTP), answer and submit one application per answer set.

    Several at once, as many citizens would: the prefill reads run concurrently and the
    submits on a few threads, each in its own transaction.
    """
    citizen = who or identity()

    async def start_all() -> list[str]:
        # A client bound to this thread's event loop, closed with it.
        original, ctx.http = ctx.http, httpx.AsyncClient(timeout=30)
        gate = asyncio.Semaphore(8)

        async def start() -> str:
            async with gate:
                return (await apps.start_application(ctx, citizen, service)).id

        try:
            return list(await asyncio.gather(*(start() for _ in answers)))
        finally:
            await ctx.http.aclose()
            ctx.http = original

    def finish(application_id: str, given: dict[str, Any]) -> str:
        if given:
            apps.update_application(ctx, citizen, application_id, answers=given)
        if before_submit is not None:
            before_submit(application_id)
        return submission.submit_application(ctx, citizen, application_id).id

    # Own thread: Playwright's sync API may have left an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        application_ids = pool.submit(asyncio.run, start_all()).result()
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(finish, application_ids, answers))


def decide_in_place(ctx: AppContext, case_id: str) -> str:
    """Put a case where the worker's decide step leaves it: processing, with its decision."""
    with unit_of_work(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        definition = ctx.catalogue.get(case.service)
        decision = decide(definition, dict(case.data["values"]), case.reference_date)
        case.status = CaseStatus.PROCESSING
        case.decision = decision.to_json()
        case.outcome = decision.outcome
        session.add(case)
        return decision.outcome


def settle(ctx: AppContext, case_id: str, *, until_event: str = "", timeout_s: float = 30) -> None:
    """Wait until the worker's workflow for the case has finished (or the event exists), so a
    test does not race the platform's in-process worker over the same case row."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # The case workflow, and the completion it queues (documents, notification).
        running = ctx.dbos_client.list_workflows(
            workflow_ids=[f"case-{case_id}", f"case-{case_id}-complete"],
            status=["ENQUEUED", "PENDING", "DELAYED"],
            load_input=False,
            load_output=False,
        )
        if not running and ctx.dbos_client.list_workflows(
            workflow_ids=[f"case-{case_id}"], load_input=False, load_output=False
        ):
            return
        if until_event:
            with Session(ctx.engine) as session:
                found = session.exec(
                    select(CaseEvent).where(
                        CaseEvent.case_id == case_id, CaseEvent.type == until_event
                    )
                ).first()
            if found is not None:
                return
        time.sleep(0.05)
    raise AssertionError(f"the workflow of case {case_id} did not settle in {timeout_s} s")


def processing_case(ctx: AppContext, service: str, answers: dict[str, Any]) -> str:
    """A submitted case put where the workflow hands over: status processing, no worker ran."""
    [case_id] = submit_cases(ctx, service, [answers])
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.status = "processing"
        session.add(case)
        session.commit()
    return case_id
