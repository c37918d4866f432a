"""Fees paid by bank transfer: a camt.053 statement moves the waiting case on exactly once,
and every transfer that does not fit is kept as a discrepancy for the department."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from backend.payments.models import PaymentBankCredit
from tests.camt_kit import Transfer, statement
from tests.conftest import Platform
from tests.integration.enginekit import (
    engine,
    event_types,
    fee_case,
    submit,
    wait_for_status,
    wait_until,
)
from tests.integration.test_console_isolation import Browser
from tests.livesrv import process_env

ROOT = Path(__file__).resolve().parents[2]


def _cli(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "payments", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=process_env(
            KNOPFDRUCK_DATABASE_URL=platform.settings.database_url,
            KNOPFDRUCK_DATA_DIR=str(platform.settings.data_dir),
            KNOPFDRUCK_SERVICES_DIR=str(platform.settings.services_dir),
            KNOPFDRUCK_BASE_URL=platform.settings.base_url,
        ),
    )


def _parking_fee(platform: Platform) -> tuple[Any, str, dict[str, Any]]:
    api = platform.api("katrin")
    case_id = submit(api, "anwohnerparkausweis")
    wait_for_status(api, case_id, {"awaiting_payment"}, timeout=60)

    def opened() -> dict[str, Any] | None:
        payment: dict[str, Any] = api.get(f"/cases/{case_id}/payment").json()
        return payment if payment.get("kassenzeichen") and payment.get("pay_url") else None

    return api, case_id, wait_until(opened, "parking fee opened")


def test_a_statement_pays_the_fee_once_and_keeps_what_does_not_fit(
    platform: Platform, tmp_path: Path
) -> None:
    api, case_id, payment = _parking_fee(platform)
    other_api, other_id, other = fee_case(platform, copies=1)
    kassenzeichen = payment["kassenzeichen"]  # 6620-2026-XXXX-XXXX
    spaced = kassenzeichen.replace("-", " ", 1).replace("-", "", 1)
    file = tmp_path / "auszug.xml"
    file.write_bytes(
        statement(
            [
                Transfer(payment["amount"], f"Kassenzeichen {spaced} Parkausweis", "B1"),
                Transfer(payment["amount"], f"KZ {kassenzeichen} nochmal", "B2"),
                Transfer("1.00", f"Beglaubigung {other['kassenzeichen']}", "B3"),
                Transfer("12.00", "Kassenzeichen 6620-2099-ZZZZ-ZZZZ", "B4"),
                Transfer("99.00", f"Ruecklastschrift {kassenzeichen}", "B5", credit=False),
            ],
            statement_id="AUSZUG-4711",
        )
    )
    done = _cli(platform, "import-camt", str(file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "camt.053.001.02: 4 credits; amount_mismatch 1, duplicate 1, paid 1, "
        "unknown_kassenzeichen 1"
    )
    wait_for_status(api, case_id, {"notified"}, timeout=60)
    assert event_types(api, case_id).count("payment_received") == 1
    assert api.get(f"/cases/{case_id}/payment").json()["status"] == "paid"
    # The wrong amount does not pay the other fee: it still waits.
    assert other_api.get(f"/cases/{other_id}").json()["status"] == "awaiting_payment"
    assert "payment_received" not in event_types(other_api, other_id)

    with Session(engine(platform)) as session:
        rows = session.exec(
            select(PaymentBankCredit).where(PaymentBankCredit.statement_id == "AUSZUG-4711")
        ).all()
    by_result = {row.result: row for row in rows}
    assert sorted(by_result) == ["amount_mismatch", "duplicate", "paid", "unknown_kassenzeichen"]
    assert by_result["paid"].case_id == case_id
    assert by_result["paid"].department == "strassenverkehrsamt"
    assert by_result["amount_mismatch"].case_id == other_id
    assert by_result["unknown_kassenzeichen"].case_id is None

    # The same statement again changes nothing.
    again = _cli(platform, "import-camt", str(file))
    assert again.returncode == 0 and again.stdout.strip().endswith("already_imported 4")
    assert event_types(api, case_id).count("payment_received") == 1

    # A file that breaks the schema is refused as a whole, before anything is matched.
    broken = tmp_path / "kaputt.xml"
    broken.write_bytes(
        statement([Transfer(other["amount"], other["kassenzeichen"], "B9")]).replace(
            b"<Sts>BOOK</Sts>", b"<Sts>BOOKED</Sts>"
        )
    )
    refused = _cli(platform, "import-camt", str(broken))
    assert refused.returncode == 1 and "nothing imported" in refused.stderr
    assert other_api.get(f"/cases/{other_id}").json()["status"] == "awaiting_payment"

    # A clerk sees the department's own; its head also what no case claims; nobody another's.
    other_reference = other_api.get(f"/cases/{other_id}").json()["reference"]
    own = Browser(platform, "clerk-buergeramt").get("/console/payments")
    assert own.status_code == 200
    assert "Betrag weicht ab" in own.text and other_reference in own.text
    assert "Doppelt bezahlt" not in own.text and "nochmal" not in own.text
    assert "6620-2099-ZZZZ-ZZZZ" not in own.text and "sieht die Leitung" in own.text
    head = Browser(platform, "supervisor-buergeramt").get("/console/payments")
    assert "Kassenzeichen unbekannt" in head.text and "6620-2099-ZZZZ-ZZZZ" in head.text
    assert other_reference in head.text and "sieht die Leitung" not in head.text
    elsewhere = Browser(platform, "clerk-ordnungsamt").get("/console/payments")
    assert "6620-2099-ZZZZ-ZZZZ" not in elsewhere.text and other_reference not in elsewhere.text
