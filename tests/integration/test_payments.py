"""Fees: the case waits durably for the payment, webhooks are verified and replay-safe,
a reminder follows, and an unpaid application is withdrawn at the deadline."""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from backend.payments.models import PaymentWebhookEvent
from backend.payments.provider import payment_secrets
from backend.payments.sandbox import sign_webhook
from backend.payments.service import PROVIDER_DOWN
from tests.conftest import Platform
from tests.integration.enginekit import (
    FEE_SERVICE,
    engine,
    event_types,
    fee_case,
    messages_of,
    pay_on_hosted_page,
    submit,
    wait_for_status,
    wait_until,
)

WEBHOOK = "/api/v1/payments/webhooks/sandbox"


def _provider_ref(payment: dict[str, object]) -> str:
    return str(payment["pay_url"]).rsplit("/", 1)[1]


def _event(ref: str, event_id: str, amount: str = "72.00") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": "payment.paid",
            "created": int(time.time()),
            "data": {"id": ref, "status": "paid", "amount": amount, "currency": "EUR"},
        }
    ).encode()


def _post_webhook(platform: Platform, body: bytes, signature: str) -> httpx.Response:
    return httpx.post(
        platform.base_url + WEBHOOK,
        content=body,
        headers={"Content-Type": "application/json", "Webhook-Signature": signature},
        timeout=30,
    )


def test_fee_is_paid_on_the_hosted_page_and_the_notice_follows(platform: Platform) -> None:
    api, case_id, payment = fee_case(platform, copies=2)
    # Reference date 2026: the tariff of 2026-01-01 applies, 36.00 € per copy.
    assert payment["status"] == "open" and payment["amount"] == "72.00"
    assert payment["items"][0]["id"] == "gebuehr"
    assert payment["items"][0]["legal_reference"] == "Nr. 1.1 Gebührentarif"
    case = api.get(f"/cases/{case_id}").json()
    assert case["documents"] == [] and case["waiting_for"].startswith("Zahlung der Gebühr")

    paid = pay_on_hosted_page(str(payment["pay_url"]))
    assert paid.status_code == 303
    assert paid.headers["location"] == f"{platform.base_url}/cases/{case_id}"

    case = wait_for_status(api, case_id, {"notified"})
    assert case["decision"]["outcome"] == "approved"
    assert case["decision"]["amounts"] == {"gebuehr": "72.00"}
    assert api.get(f"/cases/{case_id}/payment").json()["status"] == "paid"
    types = event_types(api, case_id)
    assert types == [
        "submitted",
        "processing_started",
        "decided",
        "payment_requested",
        "payment_received",
        "document_issued",
        "case_decided",
        "citizen_notified",
    ]

    (document,) = case["documents"]
    assert document["kind"] == "notice"
    pdf = api.get(f"/cases/{case_id}/documents/{document['id']}").content
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    for needed in (
        case["reference"],
        "wird stattgegeben",
        "72,00 €",
        "Begründung",
        "Rechtsbehelfsbelehrung",
        "§§ 68, 70 VwGO",
        "Widerspruch",
        "Stadt Köln",
        "bei der Stadt Teststadt, Bürgeramt",
        "automatisiert erlassen (§ 35a VwVfG)",
        "Art. 22 Abs. 3 DSGVO",
    ):
        assert needed in text, needed
    kinds = [m["kind"] for m in messages_of(api, case_id)]
    assert sorted(kinds) == ["decision", "payment"]


def test_forged_old_and_replayed_webhooks_change_nothing(platform: Platform) -> None:
    api, case_id, payment = fee_case(platform, copies=2)
    ref = _provider_ref(payment)
    secret = payment_secrets(platform.settings).webhook_secret
    body = _event(ref, "evt_forged")
    now = int(time.time())

    forged = _post_webhook(platform, body, f"t={now},v1=" + "0" * 64)
    assert forged.status_code == 400 and forged.json()["error"] == "webhook_rejected"
    wrong_key = _post_webhook(platform, body, sign_webhook("not-the-secret-" * 3, now, body))
    assert wrong_key.status_code == 400
    stale = _post_webhook(platform, body, sign_webhook(secret, now - 600, body))
    assert stale.status_code == 400 and "alt" in stale.json()["message"]
    unsigned = httpx.post(platform.base_url + WEBHOOK, content=body, timeout=30)
    assert unsigned.status_code == 400
    time.sleep(1.5)
    assert api.get(f"/cases/{case_id}").json()["status"] == "awaiting_payment"
    assert "payment_received" not in event_types(api, case_id)

    assert pay_on_hosted_page(str(payment["pay_url"])).status_code == 303
    wait_for_status(api, case_id, {"notified"})

    # The provider redelivers its event (same id): answered, applied nothing.
    api_key = payment_secrets(platform.settings).api_key
    again = httpx.post(
        f"{platform.base_url}/sandbox/payments/api/payments/{ref}/redeliver",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert again.status_code == 200 and again.json()["merchant_status"] == 200
    # A correctly signed copy, sent twice within the window: the second one is a duplicate.
    copy = _event(ref, "evt_copy")
    first = _post_webhook(platform, copy, sign_webhook(secret, int(time.time()), copy))
    assert first.json() == {"event": "evt_copy", "result": "already_paid"}
    second = _post_webhook(platform, copy, sign_webhook(secret, int(time.time()), copy))
    assert second.json() == {"event": "evt_copy", "result": "duplicate"}

    time.sleep(1.0)
    types = event_types(api, case_id)
    assert types.count("payment_received") == 1 and types.count("document_issued") == 1
    assert types.count("citizen_notified") == 1
    assert len(api.get(f"/cases/{case_id}").json()["documents"]) == 1
    with Session(engine(platform)) as session:
        seen = session.exec(
            select(PaymentWebhookEvent).where(PaymentWebhookEvent.provider_ref == ref)
        ).all()
    assert sorted(e.result for e in seen) == ["already_paid", "paid"]


def test_webhook_for_an_unknown_provider_or_too_big_is_refused(platform: Platform) -> None:
    assert httpx.post(platform.base_url + "/api/v1/payments/webhooks/paypal", content=b"{}",
                      timeout=30).status_code == 404  # fmt: skip
    huge = httpx.post(platform.base_url + WEBHOOK, content=b"x" * 70_000, timeout=30)
    assert huge.status_code == 413  # refused by the body limit before the route reads it


def test_unpaid_fee_gets_a_reminder_then_the_application_lapses(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The platform runs in this process: its live settings decide the timing of new payments.
    monkeypatch.setattr(platform.settings, "payment_reminder_after_s", 1.0)
    monkeypatch.setattr(platform.settings, "payment_deadline_s", 4.0)
    api, case_id, payment = fee_case(platform, persona="jonas", copies=1)
    assert payment["amount"] == "36.00"

    case = wait_for_status(api, case_id, {"withdrawn"}, timeout=40)
    assert case["documents"] == [] and case["waiting_for"] is None
    types = event_types(api, case_id)
    assert types.index("payment_reminder_sent") < types.index("payment_expired")
    assert types.count("payment_reminder_sent") == 1
    expired = api.get(f"/cases/{case_id}/payment").json()
    assert expired["status"] == "expired" and expired["pay_url"] is None
    kinds = [m["kind"] for m in messages_of(api, case_id)]
    assert sorted(kinds) == ["payment", "payment_reminder", "withdrawn"]
    lapse = next(m for m in messages_of(api, case_id) if m["kind"] == "withdrawn")
    assert "gilt deshalb als zurückgenommen" in lapse["body"]["de"]

    # The provider refuses a late payment: the platform cancelled it at the deadline.
    with httpx.Client(timeout=30) as browser:
        page = browser.get(str(payment["pay_url"]))
        assert "Jetzt bezahlen" not in page.text and "abgebrochen" in page.text
        token = browser.cookies["sandbox_pay_csrf"]
        late = browser.post(str(payment["pay_url"]), data={"csrf_token": token})
        assert late.status_code == 409


def test_withdrawal_while_the_fee_is_open_cancels_the_payment(platform: Platform) -> None:
    api, case_id, payment = fee_case(platform, copies=3)
    r = api.post(f"/cases/{case_id}/withdraw", json={"reason": "Ich brauche sie doch nicht."})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert api.post(f"/cases/{case_id}/withdraw", json={}).json()["status"] == "withdrawn"
    assert api.get(f"/cases/{case_id}/payment").json()["status"] == "cancelled"
    with httpx.Client(timeout=30) as browser:
        page = browser.get(str(payment["pay_url"]))
        assert "Jetzt bezahlen" not in page.text
    wait_until(
        lambda: "withdrawn" in [m["kind"] for m in messages_of(api, case_id)],
        "withdrawal confirmed in the mailbox",
    )
    time.sleep(1.5)  # the payment workflow has been told and stops; nothing is issued
    case = api.get(f"/cases/{case_id}").json()
    assert case["status"] == "withdrawn" and case["documents"] == []
    assert event_types(api, case_id).count("withdrawn") == 1


def test_provider_down_is_shown_and_retried_until_the_payment_opens(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform.settings, "payment_provider_retry_s", 1.0)
    monkeypatch.setattr(platform.settings, "payment_base_url", "http://127.0.0.1:9/nowhere")
    api = platform.api("erika")
    case_id = submit(api, FEE_SERVICE, answers={"anzahl": 1})
    case = wait_until(
        lambda: (c := api.get(f"/cases/{case_id}").json())["waiting_for"] == PROVIDER_DOWN and c,
        "the case to say that the provider is down",
    )
    assert case["status"] == "awaiting_payment"
    assert api.get(f"/cases/{case_id}/payment").json()["pay_url"] is None

    monkeypatch.setattr(
        platform.settings, "payment_base_url", f"{platform.base_url}/sandbox/payments"
    )
    payment = wait_until(
        lambda: (p := api.get(f"/cases/{case_id}/payment").json())["pay_url"] and p,
        "the payment opened once the provider is back",
    )
    assert api.get(f"/cases/{case_id}").json()["waiting_for"].startswith("Zahlung der Gebühr")
    assert pay_on_hosted_page(str(payment["pay_url"])).status_code == 303
    wait_for_status(api, case_id, {"notified"})
