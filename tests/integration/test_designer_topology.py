"""A version published in the designer reaches every process without a restart: both web
processes serve it and a separate worker process decides new cases under it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session

from backend.console import designer
from backend.db import build_engine, normalise_url
from backend.definitions.catalogue import load_catalogue
from backend.definitions.constraints import local_today
from backend.department.identity import ClerkIdentity
from backend.settings import Settings
from prefill.configuration import build_default_registry
from tests.conftest import MailCatcher
from tests.integration.topologykit import (
    Citizen,
    Topology,
    drop_database,
    fresh_database,
    wait_until,
)

SERVICE = "meldebescheinigung"
JULIA = ClerkIdentity("b1e2a3d4-0000-4000-8000-0000000000b3", "Julia Weber", "buergeramt",
                      ("designer",))  # fmt: skip
MARTIN = ClerkIdentity("b1e2a3d4-0000-4000-8000-0000000000b2", "Martin Hoffmann", "buergeramt",
                       ("clerk", "supervisor"))  # fmt: skip
NEW_REASON = "Laut Melderegister wohnen Sie hier; die Meldebescheinigung wird erteilt (Fassung B)."


@pytest.fixture
def designer_db(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'designer.db'}"
        return
    parsed = make_url(normalise_url(database_url))
    url = parsed.set(database=f"{parsed.database}_designer_topo").render_as_string(
        hide_password=False
    )
    fresh_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def test_publish_reaches_the_other_web_process_and_the_worker(
    designer_db: str, smtp_server: MailCatcher, tmp_path: Path
) -> None:
    topology = Topology(
        designer_db,
        tmp_path,
        smtp_server.host,
        smtp_server.port,
        extra_env={"KNOPFDRUCK_DEFINITIONS_POLL_S": "0.5"},
    )
    try:
        topology.start(webs=2, workers=1)
        # The designer's steps as the console pages run them (their HTML is driven in
        # tests/e2e/test_console_designer.py); publishing happens in this test process, so
        # both web processes and the worker must follow the revision to see it.
        settings = Settings(
            services_dir=topology.services_dir,
            data_dir=tmp_path / "designer-data",
            database_url=designer_db,
            _env_file=None,
        )
        connectors = build_default_registry()
        env = designer.CheckSettings(
            settings, load_catalogue(topology.services_dir, connectors), connectors
        )
        engine = build_engine(designer_db)
        with Session(engine) as session:
            draft = designer.start_draft(session, JULIA, env.catalogue, SERVICE)
            text = designer.edit_value(
                draft.text, ("rules", 0, "reason", "de"), NEW_REASON, literal=False
            )
            designer.save_draft(session, JULIA, draft, text=text)
            assert designer.check_draft(session, JULIA, env, draft).checks["ok"], draft.checks
            designer.submit(session, JULIA, draft)
            designer.publish(session, MARTIN, env, draft, local_today())
            version = str(draft.published_version)

        # The other web process follows the revision without a restart.
        def served(index: int) -> Any:
            r = httpx.get(f"{topology.web_url(index)}/api/v1/services/{SERVICE}", timeout=10)
            return r.json()["version"] if r.status_code == 200 else None

        for index in (0, 1):
            wait_until(
                lambda i=index: served(i) == version,  # type: ignore[misc]
                30,
                f"web-{index} serving the published version",
            )

        # A case submitted through web-1 is decided by the worker process under the new version.
        citizen = Citizen(topology)
        r = citizen.call("POST", "/applications", 1, json={"service": SERVICE})
        assert r.status_code == 201, r.text
        app_id = r.json()["id"]
        r = citizen.call("POST", f"/applications/{app_id}/submit", 1)
        assert r.status_code == 200, r.text
        case_id = r.json()["case_id"]

        def decided() -> dict[str, Any] | None:
            for name in topology.dead():
                raise AssertionError(f"{name} died\n{topology.log_tail(name)}")
            case: dict[str, Any] = citizen.call("GET", f"/cases/{case_id}", 1).json()
            return case if case.get("decision") else None

        wait_until(lambda: decided() is not None, 120, "the case decided by the worker")
        decision = (decided() or {})["decision"]
        assert decision["rule_version"].startswith(f"{SERVICE}@{version} ")
        assert NEW_REASON in [r["text"]["de"] for r in decision["reasons"]]
        engine.dispose()
        citizen.close()
    finally:
        topology.stop()
