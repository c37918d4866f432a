"""The case workflow runs one step up to the decision (issue 22), and cases queued under the
earlier four-step workflow before an upgrade still finish with the code they started with."""

from __future__ import annotations

import pytest
from dbos import DBOSClient
from sqlmodel import Session, select

import backend.cases.completion_workflow as completion_workflow
import backend.cases.worker as worker
from backend.engine import (
    COMPLETE_WORKFLOW,
    COMPLETE_WORKFLOW_V2,
    LEGACY_COMPLETE_WORKFLOW,
    LEGACY_WORKFLOW,
    WORKFLOW,
    WORKFLOW_V2,
)
from backend.records.models import CaseEvent
from tests.conftest import Platform
from tests.integration.enginekit import engine, submit, wait_for_status


def _steps(platform: Platform, workflow_id: str) -> tuple[str, list[str]]:
    client = DBOSClient(system_database_engine=engine(platform), lazy=True)
    [status] = client.list_workflows(workflow_ids=[workflow_id], load_input=False)
    steps = client.list_workflow_steps(workflow_id, load_output=False)
    return str(status.name), [str(step["function_name"]) for step in steps]


def test_an_automated_case_is_one_workflow_of_two_steps(platform: Platform) -> None:
    api = platform.api("erika")
    case_id = submit(api, "meldebescheinigung")
    wait_for_status(api, case_id, {"notified"})
    name, steps = _steps(platform, f"case-{case_id}")
    assert name == WORKFLOW
    # Begin, route, decide; then documents, decided and notified: no register entry is due.
    assert steps == ["knopfdruck.start", "knopfdruck.complete"], steps
    client = DBOSClient(system_database_engine=engine(platform), lazy=True)
    assert client.list_workflows(workflow_ids=[f"case-{case_id}-complete"]) == []
    documents = api.get(f"/cases/{case_id}").json()["documents"]
    assert len(documents) == 1, documents
    with Session(engine(platform)) as session:
        log = session.exec(select(CaseEvent.type).where(CaseEvent.case_id == case_id)).all()
    assert log.count("case_decided") == 1 and log.count("citizen_notified") == 1, log


def test_a_register_entry_sends_the_completion_the_long_way(platform: Platform) -> None:
    """A dog's registration enters the tax register: write-back children before the notice."""
    api = platform.api("erika")
    case_id = submit(api, "hundeanmeldung", answers={"hundename": "Rex", "rasse": "Dackel"})
    wait_for_status(api, case_id, {"notified"})
    name, steps = _steps(platform, f"case-{case_id}")
    assert name == WORKFLOW
    assert steps[:2] == ["knopfdruck.start", "knopfdruck.complete"], steps
    name, steps = _steps(platform, f"case-{case_id}-complete")
    assert name == COMPLETE_WORKFLOW
    assert steps[0] == "knopfdruck.complete" and "knopfdruck.issue" in steps, steps
    assert steps[-1] == "knopfdruck.notify", steps


def test_a_completion_queued_under_the_three_step_workflow_still_finishes(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A completion queued by a worker of the previous version keeps its name and steps."""
    monkeypatch.setattr(worker, "WORKFLOW", WORKFLOW_V2)
    monkeypatch.setattr(
        completion_workflow, "complete_case_workflow", completion_workflow.complete_case_v2_workflow
    )
    api = platform.api("erika")
    case_id = submit(api, "meldebescheinigung")
    wait_for_status(api, case_id, {"notified"})
    monkeypatch.undo()
    name, steps = _steps(platform, f"case-{case_id}")
    assert name == WORKFLOW_V2 and steps[0] == "knopfdruck.start", steps
    name, steps = _steps(platform, f"case-{case_id}-complete")
    assert name == COMPLETE_WORKFLOW_V2
    assert steps == ["knopfdruck.prepare", "knopfdruck.issue", "knopfdruck.notify"], steps
    assert len(api.get(f"/cases/{case_id}").json()["documents"]) == 1


def test_a_case_queued_under_the_four_step_workflow_still_finishes(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a web process of the earlier version queued: the legacy name, its own steps."""
    monkeypatch.setattr(worker, "WORKFLOW", LEGACY_WORKFLOW)
    monkeypatch.setattr(
        completion_workflow,
        "complete_case_workflow",
        completion_workflow.complete_case_legacy_workflow,
    )
    api = platform.api("erika")
    case_id = submit(api, "meldebescheinigung")
    wait_for_status(api, case_id, {"notified"})
    monkeypatch.undo()
    name, steps = _steps(platform, f"case-{case_id}")
    assert name == LEGACY_WORKFLOW
    assert steps[:4] == [
        "knopfdruck.begin",
        "knopfdruck.route",
        "knopfdruck.decide",
        "knopfdruck.request_payment",
    ], steps
    name, steps = _steps(platform, f"case-{case_id}-complete")
    assert name == LEGACY_COMPLETE_WORKFLOW
    assert steps == [
        "knopfdruck.round",
        "knopfdruck.writeback.plan",
        "knopfdruck.register.check",
        "knopfdruck.documents",
        "knopfdruck.finish",
        "knopfdruck.notify",
    ], steps
    assert len(api.get(f"/cases/{case_id}").json()["documents"]) == 1
