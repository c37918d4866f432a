"""Personal data at rest and in logs: IBAN and income never readable in the database, no
persona's name, IBAN or birth date in any log line of a full journey, and every registry read
in the access log."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import inspect, text
from sqlmodel import Session

from backend import crypto
from backend.db import build_engine
from tests.conftest import Platform
from tests.integration.portalkit import Citizen, log_in, start, wait_settled

FIXTURES = Path(__file__).resolve().parents[1] / "e2e" / "fixtures"
IBAN = "DE15370501980001234567"
IBAN_SPACED = "DE15 3705 0198 0001 2345 67"


def _fill_lastenrad(citizen: Citizen, application: str) -> None:
    base = f"/applications/{application}"
    assert citizen.post(f"{base}/held").status_code == 303
    assert (
        citizen.post(
            f"{base}/topics/rad", {"answer__antrieb": "muskel", "answer__gewerblich": "false"}
        ).status_code
        == 303
    )
    r = citizen.post(
        f"{base}/topics/kauf",
        {"answer__kaufpreis": "1.000,00", "answer__kaufdatum": "05.11.2026"},
        files={"file__rechnung": ("rechnung.pdf", (FIXTURES / "rechnung.pdf").read_bytes())},
    )
    assert r.status_code == 303, r.text
    r = citizen.post(f"{base}/topics/auszahlung", {"answer__iban": IBAN_SPACED})
    assert r.status_code == 303, r.text


def _every_stored_text(platform: Platform) -> list[tuple[str, str]]:
    """(table, row as text) for every row of every table, ours and DBOS's, read raw."""
    engine = build_engine(platform.settings.database_url)
    found = []
    try:
        inspector = inspect(engine)
        schemas: list[str | None] = [None]
        if engine.dialect.name == "postgresql":
            schemas.append("dbos")
        with engine.connect() as conn:
            for schema in schemas:
                for table in inspector.get_table_names(schema=schema):
                    name = f'"{schema}"."{table}"' if schema else f'"{table}"'
                    for row in conn.execute(text(f"SELECT * FROM {name}")):
                        found.append((table, " ".join(_as_text(v) for v in row)))
    finally:
        engine.dispose()
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):  # psycopg decodes JSON columns; SQLite gives the text
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def test_iban_and_income_are_encrypted_at_rest(platform: Platform) -> None:
    citizen = log_in(platform, "jonas")
    application = start(citizen, "lastenrad-zuschuss")
    _fill_lastenrad(citizen, application)
    check = citizen.get(f"/applications/{application}/check").text
    assert IBAN_SPACED in check or IBAN in check  # decrypted on read for the citizen
    r = citizen.submit(application)
    assert r.status_code == 303, r.text
    case_id = r.headers["location"].split("/")[2]
    assert wait_settled(citizen, case_id) in ("decided", "notified", "referred")
    # Sophie's income comes from the Einkommensregister: held data, prefilled.
    with platform.api("sophie") as api:
        held = api.post("/applications", json={"service": "registerabruf"})
        assert held.status_code == 201, held.text
        income = {f["id"]: f for f in held.json()["fields"]}["nettoeinkommen"]["value"]
        assert income, held.json()
        held_id = held.json()["id"]
        # Reading through the platform gives the plain values back.
        assert api.get(f"/applications/{held_id}").json()["fields"]

    rows = _every_stored_text(platform)
    iban_digits = IBAN[4:]
    leaks = [table for table, row in rows if iban_digits in row.replace(" ", "")]
    assert not leaks, f"the IBAN is readable in {sorted(set(leaks))}"
    applications = [row for table, row in rows if table == "applications" and held_id in row]
    assert applications, held_id
    # The whole held entry (value and provenance) is sealed under its sensitive key.
    assert re.search(r'"nettoeinkommen":\s*\{"\$enc"', applications[0]), applications[0][:2000]
    assert (
        f"{float(income):.2f}" not in applications[0]
        and f'"value": {income}' not in (applications[0])
    )


@pytest.fixture
def own_key_ring() -> Iterator[None]:
    """The process's key ring as it was: the platform running alongside keeps its keys."""
    saved = (list(crypto._RING._keys), crypto._RING._fernet)
    try:
        yield
    finally:
        crypto._RING._keys, crypto._RING._fernet = saved


def test_field_encryption_round_trip_and_key_rotation(tmp_path: Path, own_key_ring: None) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    crypto.configure_keys([old])
    document = {"iban": IBAN, "kinder": [{"bruttoeinkommen": 1200}], "name": "öffentlich"}
    sealed = crypto.seal(document)
    assert IBAN not in str(sealed) and "1200" not in str(sealed)
    assert sealed["name"] == "öffentlich"  # only sensitive keys are encrypted
    assert crypto.unseal(sealed) == document
    # Rotation: the new key encrypts, the old one still decrypts until rows are rotated.
    crypto.configure_keys([new, old])
    assert crypto.unseal(sealed) == document
    rotated = crypto.rotate_value(sealed["iban"])
    assert Fernet(new).decrypt(rotated["$enc"].encode()) == f'"{IBAN}"'.encode()
    with pytest.raises(Exception):  # noqa: B017  (InvalidToken: written with the new key)
        Fernet(old).decrypt(rotated["$enc"].encode())
    # A malformed key is refused at start-up, with a message that says what a key looks like.
    with pytest.raises(crypto.FieldEncryptionError, match="Fernet"):
        crypto.parse_keys("nicht-base64")
    generated = crypto.keys_for("", tmp_path)
    assert crypto.keys_for("", tmp_path) == generated  # generated once, then reused
    assert (tmp_path / crypto.KEY_FILE).stat().st_mode & 0o077 == 0


def test_logs_of_a_full_journey_carry_no_personal_data(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    citizen = log_in(platform, "jonas")
    application = start(citizen, "lastenrad-zuschuss")
    _fill_lastenrad(citizen, application)
    r = citizen.submit(application)
    case_id = r.headers["location"].split("/")[2]
    wait_settled(citizen, case_id)
    citizen.get(f"/cases/{case_id}")
    citizen.get(f"/cases/{case_id}/receipt")
    citizen.get("/mailbox")
    with platform.api("erika") as api:
        draft = api.post("/applications", json={"service": "meldebescheinigung"}).json()["id"]
        case = api.post(f"/applications/{draft}/submit").json()["case_id"]
        deadline = time.monotonic() + 30
        while api.get(f"/cases/{case}").json()["status"] not in ("notified", "referred"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        for document in api.get(f"/cases/{case}").json()["documents"]:
            api.get(f"/cases/{case}/documents/{document['id']}")
        api.get("/me/data-access")
        # Bad input is logged as an error code, never with what was sent.
        api.patch(f"/applications/{draft}", json={"answers": {"iban": IBAN}})
    personal = [
        "Mustermann",
        "Erika",
        "Schneider",
        "Jonas",
        "Heidestra",
        "Venloer",
        "1964-08-12",
        "12.08.1964",
        "86095742719",
        IBAN,
        IBAN_SPACED,
        IBAN[4:],
    ]
    assert len(caplog.records) > 0
    lines = [record.getMessage() + " " + str(record.__dict__) for record in caplog.records]
    found = {p for p in personal for line in lines if p in line}
    assert not found, f"personal data in the logs: {found}"


def test_every_registry_read_is_in_the_access_log(platform: Platform) -> None:
    engine = build_engine(platform.settings.database_url)

    def reads_of(sub_like: str) -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT COUNT(*) FROM registry_accesses WHERE application_id = :a"),
                    {"a": sub_like},
                ).scalar_one()
            )

    with platform.api("sophie") as api:
        starts = [api.post("/applications", json={"service": "registerabruf"}) for _ in range(3)]
    connectors = {"melderegister", "kfz-zulassungsregister", "hochschulregister"}
    connectors |= {"einkommensregister", "geodaten"}
    for started in starts:
        assert started.status_code == 201, started.text
        fields = started.json()["fields"]
        sources = {f["source"]["registry"] for f in fields if f.get("source")}
        assert sources <= connectors
        # One access-log row per register read for this application: none missing, none extra.
        assert reads_of(started.json()["id"]) == len(connectors), started.json()["id"]
    with platform.api("sophie") as api:
        logged = api.get("/me/data-access").json()
    ids = {s.json()["id"] for s in starts}
    mine = [a for a in logged if a.get("application_id") in ids]
    assert len(mine) == 3 * len(connectors)
    assert all(a["purpose"] and a["legal_basis"] for a in mine)
    assert not any(re.search(r"\d{3,}", " ".join(a["attributes_returned"])) for a in mine)
    engine.dispose()


def test_rotate_keys_reencrypts_and_seals_old_plain_rows(
    tmp_path: Path, own_key_ring: None
) -> None:
    """An operator adds a key in front and runs `knopfdruck security rotate-keys`: afterwards
    only the new key is needed; rows written before encryption existed are sealed as well."""
    from backend.migrate import upgrade_database
    from backend.records.models import Application
    from backend.settings import Settings
    from knopfdruck.cli import main

    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    upgrade_database(url)
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto.configure_keys([old.encode()])
    engine = build_engine(url)
    with Session(engine) as session:
        sealed = Application(
            service="lastenrad-zuschuss",
            service_version="1",
            citizen_sub="s",
            answers={"iban": IBAN},
        )
        session.add(sealed)
        session.commit()
        sealed_id = sealed.id
    with engine.begin() as conn:  # a row from before encryption: plain JSON
        conn.execute(
            text(
                "INSERT INTO applications (id, service, service_version, citizen_sub, status,"
                " prefill, answers, disputes, created_at, updated_at) VALUES ('plain', 's', '1',"
                " 's', 'draft', '{}', :answers, '{}', '2026-01-01', '2026-01-01')"
            ),
            {"answers": f'{{"iban": "{IBAN}"}}'},
        )
    env = {
        "KNOPFDRUCK_DATABASE_URL": url,
        "KNOPFDRUCK_DATA_DIR": str(tmp_path),
        "KNOPFDRUCK_FIELD_ENCRYPTION_KEYS": f"{new},{old}",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        from backend.settings import get_settings

        get_settings.cache_clear()
        try:
            assert Settings().field_encryption_keys.startswith(new)
            assert main(["security", "rotate-keys"]) == 0
        finally:
            get_settings.cache_clear()
    with engine.connect() as conn:
        raw = dict(conn.execute(text("SELECT id, answers FROM applications")).all())
    assert IBAN not in str(raw)
    for token in (json.loads(raw[i])["iban"]["$enc"] for i in (sealed_id, "plain")):
        assert Fernet(new.encode()).decrypt(token.encode()) == f'"{IBAN}"'.encode()
    engine.dispose()
