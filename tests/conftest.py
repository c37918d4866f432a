"""Shared fixtures: the test database (SQLite, or PostgreSQL when asked) and a live platform."""

from __future__ import annotations

import email.policy
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from backend.db import normalise_url
from backend.settings import Settings
from tests.livesrv import TEST_SETTINGS, free_port, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
TEST_SERVICES = ROOT / "tests" / "fixtures" / "services"
"""Test-only service definitions, served by the `platform` fixture next to the real ones."""
PG_ENV = "KNOPFDRUCK_TEST_DATABASE_URL"


def _reset_postgres(url: str) -> None:
    """Start from an empty database: our schema and DBOS's are dropped."""
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS dbos CASCADE"))
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite file by default; PostgreSQL when KNOPFDRUCK_TEST_DATABASE_URL is set (must answer)."""
    url = os.environ.get(PG_ENV, "")
    if url:
        _reset_postgres(url)  # fails loudly when PostgreSQL is not there: no silent skip
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'knopfdruck.db'}"


@dataclass
class MailCatcher:
    """A real SMTP server on loopback (aiosmtpd) that keeps every mail it receives."""

    host: str
    port: int
    messages: list[EmailMessage]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in list(self.messages) if address in str(m.get("To", ""))]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[MailCatcher]:
    """Shared by the platform (its SMTP settings point here) and the mail tests."""
    from aiosmtpd.controller import Controller

    received: list[EmailMessage] = []

    class Keep:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            parsed = BytesParser(policy=email.policy.default).parsebytes(envelope.content)
            received.append(parsed)
            return "250 Message accepted for delivery"

    controller = Controller(Keep(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield MailCatcher("127.0.0.1", controller.port, received)
    finally:
        controller.stop()


@dataclass
class Platform:
    base_url: str
    settings: Settings

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def token(self, persona: str) -> str:
        r = httpx.post(f"{self.base_url}/sandbox/idp/token", data={"persona": persona}, timeout=10)
        r.raise_for_status()
        token: str = r.json()["access_token"]
        return token

    def api(self, persona: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base_url}/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {self.token(persona)}"},
        )


@pytest.fixture(scope="session")
def platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp_server: MailCatcher
) -> Iterator[Platform]:
    """The whole platform as `knopfdruck serve` runs it: migrated DB, sandbox, in-process worker."""
    from backend.migrate import upgrade_database
    from knopfdruck.app import create_app

    port = free_port()
    services = tmp_path_factory.mktemp("services")
    for folder in [*(ROOT / "services").iterdir(), *(ROOT / "tests/fixtures/services").iterdir()]:
        if folder.is_dir():
            shutil.copytree(folder, services / folder.name)
    # The repository's tenants too (issue 13): Köln is the home tenant, so its residents' cases
    # keep running as before, and Bergheim's and Neuenhaus's run under their own overlays.
    tenants = tmp_path_factory.mktemp("tenants")
    shutil.copytree(ROOT / "tenants", tenants, dirs_exist_ok=True)
    settings = Settings(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        services_dir=services,
        tenants_dir=tenants,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        _env_file=None,
        **TEST_SETTINGS,
    )
    upgrade_database(settings.database_url)
    app = create_app(settings)
    with serve_in_thread(app, port) as base:
        # QA sampling is off in TEST_SETTINGS (tests/livesrv.py); QA tests refer explicitly.
        yield Platform(base, settings)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, which async tests collected after it could not use."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path))


_exit_status: list[int] = [0]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status[0] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process once pytest has reported.

    The in-process worker may hold DBOS executor threads parked in a durable wait (a case
    waiting for payment sits in DBOS.recv). They are not daemon threads, so the interpreter
    would wait for them forever at exit. Their state is checkpointed in the (throw-away) test
    database, so nothing is lost by ending here; the exit status is pytest's own.
    """
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status[0])
