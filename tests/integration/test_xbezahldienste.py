"""XBezahldienste 1.2.0 over real HTTP: the sandbox platform answers what the official schema
describes, and a parking permit is paid through it end to end, booked under its Kassenzeichen."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from backend.cases.xdomea_check import SUCCESS, parse_acknowledgement
from backend.columns import aware
from backend.payments.booking_export import COLUMNS, GERMAN_TIME
from backend.payments.models import Payment
from backend.payments.provider import OrderItem, PaymentOrder, payment_secrets
from backend.payments.xbezahldienste import VERSION, VERSION_HEADER, payment_request
from tests.conftest import Platform
from tests.integration.enginekit import (
    engine,
    event_types,
    pay_on_hosted_page,
    submit,
    wait_for_status,
    wait_until,
)
from tests.livesrv import process_env
from tests.xbezahldienste_spec import errors

API = "/sandbox/xbezahldienste/api/v1"
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=process_env(**env),
    )


def _headers(platform: Platform) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {payment_secrets(platform.settings).api_key}",
        VERSION_HEADER: VERSION,
    }


def _request(platform: Platform, request_id: str, amount: str = "30.00") -> dict[str, Any]:
    order = PaymentOrder(
        payment_id=request_id,
        amount=Decimal(amount),
        currency="EUR",
        description="Bewohnerparkausweis",
        reference="KD-2026-ABCD-EFGH",
        return_url=f"{platform.base_url}/cases/x",
        webhook_url=f"{platform.base_url}/unused",
        kassenzeichen="6620-2026-ABCD-EFGH",
        items=(OrderItem("gebuehr", "Gebühr", Decimal(amount), {"sachkonto": "4321000"}),),
        status_return_url=f"{platform.base_url}/api/v1/payments/return/{'0' * 32}",
    )
    body = payment_request(order, now=datetime.now(UTC))
    assert errors("PaymentRequest", body) == []
    return body


def test_the_sandbox_platform_answers_in_the_schemas_of_the_standard(platform: Platform) -> None:
    with httpx.Client(base_url=platform.base_url + API, timeout=30) as client:
        path = "/paymenttransaction/knopfdruck/05315000"
        body = _request(platform, "req-schema-1")
        created = client.post(path, json=body, headers=_headers(platform))
        assert created.status_code == 200, created.text
        assert errors("PaymentTransaction", created.json()) == []
        info = created.json()["paymentInformation"]
        assert info["status"] == "INITIAL" and info["transactionReference"] == body["purpose"]
        assert created.json()["paymentRequest"] == body

        again = client.post(path, json=body, headers=_headers(platform))
        assert again.json()["paymentInformation"]["transactionId"] == info["transactionId"]
        shown = client.get(f"{path}/{info['transactionId']}", headers=_headers(platform))
        assert shown.status_code == 200 and errors("PaymentTransaction", shown.json()) == []

        wrong_sum = {**_request(platform, "req-schema-2"), "grossAmount": 31.0}
        refused = client.post(path, json=wrong_sum, headers=_headers(platform))
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert errors("SystemResponse", refused.json()) == []
        assert refused.json()["functionalCode"] == "CALCULATION_ERROR"

        forbidden = client.post(path, json=body, headers={"Authorization": "Bearer nope"})
        assert forbidden.status_code == 403 and errors("SystemResponse", forbidden.json()) == []
        unknown = client.get(f"{path}/no-such-transaction", headers=_headers(platform))
        assert unknown.status_code == 404 and errors("SystemResponse", unknown.json()) == []
        health = client.get("/status", headers=_headers(platform))
        assert health.status_code == 200 and errors("SystemResponse", health.json()) == []


def test_a_parking_permit_is_paid_through_xbezahldienste_and_booked_under_its_kassenzeichen(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # New fees go to the XBezahldienste platform; payments opened before keep their provider.
    monkeypatch.setattr(platform.settings, "payment_provider", "xbezahldienste")
    api = platform.api("katrin")
    case_id = submit(api, "anwohnerparkausweis")
    wait_for_status(api, case_id, {"awaiting_payment"}, timeout=60)

    def opened() -> dict[str, Any] | None:
        payment: dict[str, Any] = api.get(f"/cases/{case_id}/payment").json()
        return payment if payment.get("pay_url") else None

    payment = wait_until(opened, "payment opened at the XBezahldienste platform")
    reference = api.get(f"/cases/{case_id}").json()["reference"]
    kassenzeichen = "6620-" + reference.removeprefix("KD-")
    assert payment["kassenzeichen"] == kassenzeichen
    assert payment["pay_url"].startswith(f"{platform.base_url}/sandbox/xbezahldienste/paypage/")
    with Session(engine(platform)) as session:
        stored = session.exec(select(Payment).where(Payment.case_id == case_id)).one()
    assert stored.provider == "xbezahldienste" and stored.kassenzeichen == kassenzeichen
    assert stored.provider_ref is not None and stored.provider_ref.startswith("05315000:")
    assert stored.items[0]["booking"]["sachkonto"] == "4321000"

    # The return alone proves nothing: before paying, it is answered and changes nothing.
    return_url = f"{platform.base_url}/api/v1/payments/return/{stored.id}"
    early = httpx.get(return_url, timeout=30)
    assert early.status_code == 303 and early.headers["location"].endswith(f"/cases/{case_id}")
    assert api.get(f"/cases/{case_id}").json()["status"] == "awaiting_payment"
    assert httpx.get(f"{platform.base_url}/api/v1/payments/return/{'f' * 32}",
                     timeout=30).status_code == 404  # fmt: skip

    # The platform's own record of the request is what the standard describes.
    transaction_id = stored.provider_ref.split(":", 1)[1]
    at_platform = httpx.get(
        f"{platform.base_url}{API}/paymenttransaction/knopfdruck/05315000/{transaction_id}",
        headers=_headers(platform),
        timeout=30,
    ).json()
    assert errors("PaymentTransaction", at_platform) == []
    sent = at_platform["paymentRequest"]
    assert sent["purpose"] == kassenzeichen and sent["requestId"] == stored.id
    assert Decimal(str(sent["grossAmount"])) == Decimal(stored.amount)
    assert sent["items"][0]["bookingData"] == {
        "haushaltsstelle": "12.2.01.1",
        "sachkonto": "4321000",
        "kassenzeichen": kassenzeichen,
    }

    paid = pay_on_hosted_page(payment["pay_url"])
    assert paid.status_code == 303 and paid.headers["location"] == return_url
    back = httpx.get(return_url, timeout=30)
    assert back.status_code == 303 and back.headers["location"].endswith(f"/cases/{case_id}")
    wait_for_status(api, case_id, {"notified"}, timeout=60)
    assert httpx.get(return_url, timeout=30).status_code == 303  # a second return: nothing new
    types = event_types(api, case_id)
    assert types.count("payment_received") == 1 and types.count("citizen_notified") == 1
    assert api.get(f"/cases/{case_id}/payment").json()["status"] == "paid"

    # The cash office's export of the day books it under the Kassenzeichen, without a person.
    with Session(engine(platform)) as session:
        stored = session.exec(select(Payment).where(Payment.case_id == case_id)).one()
    assert stored.paid_at is not None
    day = aware(stored.paid_at).astimezone(GERMAN_TIME).date()
    out = tmp_path / "buchungen.csv"
    env = {"KNOPFDRUCK_DATABASE_URL": platform.settings.database_url}
    done = _cli("payments", "booking-export", "--date", day.isoformat(), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")), delimiter=";"))
    assert list(rows[0]) == list(COLUMNS)
    (ours,) = [row for row in rows if row["aktenzeichen"] == reference]
    assert ours["kassenzeichen"] == kassenzeichen and ours["buchungstag"] == day.isoformat()
    assert (ours["haushaltsstelle"], ours["sachkonto"]) == ("12.2.01.1", "4321000")
    assert ours["betrag"] == stored.amount and ours["waehrung"] == "EUR"
    assert ours["dienst"] == "anwohnerparkausweis" and ours["zahlungsweg"] == "xbezahldienste"
    assert ours["transaktion"] == stored.provider_ref
    # The day before holds none of it; a malformed date is refused and writes nothing.
    before = _cli("payments", "booking-export", "--date", (day - timedelta(days=1)).isoformat(),
                  env=env)  # fmt: skip
    assert before.returncode == 0 and reference not in before.stdout
    bad = _cli("payments", "booking-export", "--date", "04.12.2026", "--out", str(out) + "x",
               env=env)  # fmt: skip
    assert bad.returncode == 2 and "no date" in bad.stderr
    assert not (tmp_path / "buchungen.csvx").exists()

    # The end of the line (issue 16): the same paid case goes to the E-Akte as xdomea 3.0.0,
    # and the sandbox E-Akte checks it against the official schema and files it.
    package = tmp_path / "akte.zip"
    exported = _cli("export-case", case_id, "--format", "xdomea", "-o", str(package), env=env)
    assert exported.returncode == 0, exported.stderr
    filed = httpx.post(
        f"{platform.base_url}/sandbox/eakte/messages",
        content=package.read_bytes(),
        headers={"Content-Type": "application/zip"},
        timeout=60,
    )
    assert filed.status_code == 200, filed.text
    acknowledgement = parse_acknowledgement(filed.content)
    assert acknowledgement.filed and acknowledgement.codes == [SUCCESS]
    at_eakte = httpx.get(
        f"{platform.base_url}/sandbox/eakte/messages/{acknowledgement.process_id}", timeout=30
    ).json()
    assert at_eakte["reference"] == reference and at_eakte["case_id"] == case_id
    assert any(name.endswith(".pdf") for name in at_eakte["documents"])
