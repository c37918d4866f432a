"""A paid fee goes back when the approval it paid for is replaced by a decision that costs
nothing (Abhilfe after an objection): a refund task under the Kassenzeichen, once."""

from __future__ import annotations

from sqlmodel import Session, select

from backend.records.models import CaseTask
from tests.conftest import Platform
from tests.integration.enginekit import (
    engine,
    event_types,
    fee_case,
    pay_on_hosted_page,
    wait_for_status,
)
from tests.integration.test_console_isolation import console_api


def test_a_remedied_objection_against_a_paid_approval_opens_one_refund(
    platform: Platform,
) -> None:
    api, case_id, payment = fee_case(platform, copies=1)
    assert pay_on_hosted_page(str(payment["pay_url"])).status_code == 303
    wait_for_status(api, case_id, {"notified"})
    lodged = api.post(f"/cases/{case_id}/objection", json={"statement": "Gebühr zu Unrecht."})
    assert lodged.status_code == 201, lodged.text

    clerk = console_api(platform, "clerk-buergeramt")
    done = clerk.post(
        f"/cases/{case_id}/objection",
        json={
            "action": "remedy",
            "outcome": "rejected",
            "reason": "Abhilfe: Voraussetzungen lagen nicht vor.",
            "withdrawal": "ruecknahme",
            "hearing_dispensable": "Der Widerspruchsführer hat sich bereits geäußert.",
        },
    )
    assert done.status_code == 200, done.text
    if done.json().get("pending_id"):
        confirmed = console_api(platform, "supervisor-buergeramt").post(
            f"/cases/{case_id}/pending", json={"confirm": True, "reason": "Geprüft, zutreffend."}
        )
        assert confirmed.status_code == 200, confirmed.text
    wait_for_status(api, case_id, {"notified", "closed"})

    with Session(engine(platform)) as session:
        tasks = session.exec(
            select(CaseTask).where(CaseTask.case_id == case_id, CaseTask.kind == "refund")
        ).all()
    (task,) = tasks
    assert task.status == "open" and task.department == "buergeramt"
    assert f"{payment['amount']} EUR unter Kassenzeichen {payment['kassenzeichen']}" in (
        task.statement or ""
    )
    types = event_types(api, case_id)
    assert types.count("refund_requested") == 1  # the citizen sees it in the timeline
    assert api.get(f"/cases/{case_id}/payment").json()["status"] == "paid"
