"""The compose.yaml topology as local processes: migrate once, sandbox, web x N, worker x M.

This machine has no container engine, so the topology test, the chaos run and the scale and
intake benchmarks start the very commands compose.yaml runs (`knopfdruck db upgrade`,
`knopfdruck sandbox`, `knopfdruck serve --no-worker`, `knopfdruck worker`) as subprocesses on
loopback ports, against one database. Citizens reach the web processes over the JSON API with
sandbox IdP tokens, as a script would. Imported by tests and by benchmarks/*.py alike.
"""

from __future__ import annotations

import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.db import normalise_url
from backend.handover.credentials import SANDBOX_CA_FILE
from tests.livesrv import free_port, process_env

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "hundeanmeldung"
"""Test service with a notice, a register write-back and a mail: every invariant applies."""
DOG = {"hundename": "Bello", "rasse": "Labrador"}


def fresh_database(url: str) -> str:
    """Drop and create the database named in ``url`` (PostgreSQL), or remove the SQLite file.

    Nothing is migrated here: that is the one-shot `knopfdruck db upgrade` process's job.
    """
    parsed = make_url(normalise_url(url))
    if parsed.drivername.startswith("sqlite"):
        Path(str(parsed.database)).unlink(missing_ok=True)
        return url
    admin = create_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return url


def drop_database(url: str) -> None:
    parsed = make_url(normalise_url(url))
    if parsed.drivername.startswith("sqlite"):
        return
    admin = create_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def copy_services(target: Path) -> Path:
    """The shipped services plus the test-only ones (hundeanmeldung lives there)."""
    import shutil

    for source in (ROOT / "services", ROOT / "tests/fixtures/services"):
        for folder in source.iterdir():
            if folder.is_dir():
                shutil.copytree(folder, target / folder.name, dirs_exist_ok=True)
    return target


def production_pools() -> dict[str, str]:
    """The default pool sizes, for a benchmark that measures throughput: tests use small ones."""
    from backend.settings import Settings

    return {
        f"KNOPFDRUCK_{name.upper()}": str(Settings.model_fields[name].default)
        for name in ("db_pool_size", "db_max_overflow")
    }


@dataclass
class Topology:
    """One database, one sandbox, web and worker processes; every process can be killed."""

    database_url: str
    workdir: Path
    smtp_host: str = ""
    smtp_port: int = 0
    worker_concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    sandbox_port: int = field(default_factory=free_port)
    web_ports: list[int] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    fitconnect_client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    fitconnect_callback_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def __post_init__(self) -> None:
        self.services_dir = copy_services(self.workdir / "services")
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def web_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.web_ports[index]}"

    def env(self, base_url: str) -> dict[str, str]:
        """Configuration by environment only, as in compose.yaml."""
        env = {
            # Small pools as in every test process; the sandbox off: it runs standalone here.
            **process_env(),
            "KNOPFDRUCK_DATABASE_URL": self.database_url,
            "KNOPFDRUCK_DATA_DIR": str(self.data_dir),
            "KNOPFDRUCK_SERVICES_DIR": str(self.services_dir),
            "KNOPFDRUCK_BASE_URL": base_url,
            "KNOPFDRUCK_SANDBOX": "false",
            "KNOPFDRUCK_OIDC_ISSUER": f"{self.sandbox_url}/sandbox/idp",
            "KNOPFDRUCK_REGISTRY_BASE_URL": f"{self.sandbox_url}/sandbox/registries",
            "KNOPFDRUCK_HANDOVER_BASE_URL": f"{self.sandbox_url}/sandbox/fitconnect",
            # The separate sandbox has its own FIT-Connect client and callback secret; the
            # platform is told explicitly to log in with that client and trust that secret.
            "KNOPFDRUCK_SANDBOX_FITCONNECT_CLIENT_SECRET": self.fitconnect_client_secret,
            "KNOPFDRUCK_SANDBOX_FITCONNECT_CALLBACK_SECRET": self.fitconnect_callback_secret,
            "KNOPFDRUCK_HANDOVER_CLIENT_ID": "knopfdruck-sandbox-sender",
            "KNOPFDRUCK_HANDOVER_CLIENT_SECRET": self.fitconnect_client_secret,
            "KNOPFDRUCK_HANDOVER_CALLBACK_SECRET": self.fitconnect_callback_secret,
            # ... and to trust the CA that certifies the separate sandbox's destination keys.
            "KNOPFDRUCK_HANDOVER_TRUST_ANCHORS": str(self.data_dir / SANDBOX_CA_FILE),
            "KNOPFDRUCK_WORKER_DEAD_AFTER_S": "5",
            # Shared 2-core machines stall a loaded sandbox for seconds; a prefill that times
            # out would leave the draft incomplete and fail the run for the wrong reason.
            "KNOPFDRUCK_REGISTRY_TIMEOUT_S": "30",
            "KNOPFDRUCK_SMTP_HOST": self.smtp_host,
            "KNOPFDRUCK_SMTP_PORT": str(self.smtp_port),
            "PYTHONUNBUFFERED": "1",
            # One test persona plays every citizen from one address: per-account and per-address
            # rate limits (docs/security.md) would throttle the load, not protect anyone.
            **{
                f"KNOPFDRUCK_RATE_LIMIT_{action}_PER_{who}": "0"
                for action in ("START", "SUBMIT")
                for who in ("ACCOUNT", "IP")
            },
            **self.extra_env,
        }
        env.pop("KNOPFDRUCK_TEST_DATABASE_URL", None)
        return env

    def _spawn(self, name: str, args: list[str], base_url: str) -> subprocess.Popen[bytes]:
        log_path = self.workdir / f"{name}.log"
        # Append: a restarted process keeps the log of its predecessor above its own.
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "knopfdruck.cli", *args],
                env=self.env(base_url),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.processes[name] = process
        self.logs[name] = log_path
        return process

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs.get(name)
        text_ = path.read_text(errors="replace") if path and path.exists() else ""
        return f"--- {name} log:\n{text_[-chars:]}"

    def migrate(self) -> None:
        """The one-shot migrate service: exit 0, or the topology does not start."""
        self._spawn("migrate", ["db", "upgrade"], self.sandbox_url)
        code = self.processes["migrate"].wait(timeout=180)
        if code != 0:
            raise RuntimeError(f"migrate exited with {code}\n{self.log_tail('migrate')}")

    def start_sandbox(self) -> None:
        self._spawn(
            "sandbox",
            ["sandbox", "--port", str(self.sandbox_port), "--public-url", self.sandbox_url],
            # Handover status callbacks go to the first web process.
            self.web_url(0) if self.web_ports else self.sandbox_url,
        )
        self.wait_http("sandbox", f"{self.sandbox_url}/sandbox/registries/healthz")

    def start_web(self, index: int) -> None:
        while len(self.web_ports) <= index:
            self.web_ports.append(free_port())
        port = self.web_ports[index]
        self._spawn(
            f"web-{index}",
            ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            self.web_url(index),
        )

    def start_worker(self, index: int) -> None:
        self._spawn(
            f"worker-{index}",
            ["worker", "--concurrency", str(self.worker_concurrency)],
            self.web_url(0) if self.web_ports else self.sandbox_url,
        )

    def wait_http(self, name: str, url: str, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}\n{self.log_tail(name)}"
                )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer {url} in {timeout_s} s")
            time.sleep(0.1)

    def wait_web(self, index: int) -> None:
        self.wait_http(f"web-{index}", f"{self.web_url(index)}/healthz")

    def start(self, webs: int, workers: int) -> None:
        """Migrate once, then sandbox, webs and workers, as compose's depends_on orders them."""
        self.web_ports.extend(free_port() for _ in range(webs))
        self.migrate()
        self.start_sandbox()
        for index in range(webs):
            self.start_web(index)
        for index in range(workers):
            self.start_worker(index)
        for index in range(webs):
            self.wait_web(index)

    def kill(self, name: str) -> int:
        """kill -9; returns the pid that died."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return process.pid

    def restart(self, name: str) -> None:
        kind, _, index = name.partition("-")
        if kind == "web":
            self.start_web(int(index))
            self.wait_web(int(index))
        elif kind == "worker":
            self.start_worker(int(index))
        else:
            raise ValueError(f"cannot restart {name}")

    def dead(self, prefix: str = "") -> list[str]:
        return [
            name
            for name, p in self.processes.items()
            if name.startswith(prefix) and name != "migrate" and p.poll() is not None
        ]

    def stop(self) -> None:
        """SIGTERM everyone (workers leave cleanly), then SIGKILL what still runs."""
        running = [p for n, p in self.processes.items() if n != "migrate" and p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


class Citizen:
    """A script talking to the web processes over the JSON API; fails over to another web
    process when one does not answer, as a load balancer would send it elsewhere."""

    def __init__(self, topology: Topology, persona: str = "erika", *, timeout_s: float = 120):
        self.topology = topology
        self.persona = persona
        self.timeout_s = timeout_s
        self._token = ""
        self._lock = threading.Lock()
        self.client = httpx.Client(timeout=30)
        self.answered_by: dict[int, int] = {}
        self.failovers = 0

    def token(self, refresh: bool = False) -> str:
        with self._lock:
            if refresh or not self._token:
                r = httpx.post(
                    f"{self.topology.sandbox_url}/sandbox/idp/token",
                    data={"persona": self.persona},
                    timeout=10,
                )
                r.raise_for_status()
                self._token = r.json()["access_token"]
            return self._token

    def call(self, method: str, path: str, first_web: int, **kwargs: Any) -> httpx.Response:
        """Retry on a dead web process, a 5xx or a 503 with Retry-After, on the next one."""
        deadline = time.monotonic() + self.timeout_s
        webs = len(self.topology.web_ports)
        attempt = 0
        last = ""
        while time.monotonic() < deadline:
            index = (first_web + attempt) % webs
            attempt += 1
            try:
                r = self.client.request(
                    method,
                    f"{self.topology.web_url(index)}/api/v1{path}",
                    headers={"Authorization": f"Bearer {self.token()}"},
                    **kwargs,
                )
            except httpx.TransportError as exc:
                last = f"web-{index}: {type(exc).__name__}"
                with self._lock:
                    self.failovers += 1
                time.sleep(0.2)
                continue
            if r.status_code == 401:
                self.token(refresh=True)
                continue
            if r.status_code >= 500:
                last = f"web-{index}: HTTP {r.status_code}"
                with self._lock:
                    self.failovers += 1
                time.sleep(min(2.0, float(r.headers.get("Retry-After", "0.2") or 0.2)))
                continue
            with self._lock:
                self.answered_by[index] = self.answered_by.get(index, 0) + 1
            return r
        raise RuntimeError(f"{method} {path} failed for {self.timeout_s} s: {last}")

    def apply(self, first_web: int, answers: dict[str, Any] | None = None) -> tuple[str, str]:
        """Start, answer and submit one application; returns (application id, case id)."""
        r = self.call("POST", "/applications", first_web, json={"service": SERVICE})
        assert r.status_code == 201, r.text
        application_id = r.json()["id"]
        r = self.call(
            "PATCH",
            f"/applications/{application_id}",
            first_web,
            json={"answers": answers or DOG},
        )
        assert r.status_code == 200, r.text
        # Submitting twice returns the same case: a retry after a lost answer is safe.
        r = self.call("POST", f"/applications/{application_id}/submit", first_web)
        assert r.status_code == 200, r.text
        return application_id, r.json()["case_id"]

    def close(self) -> None:
        self.client.close()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


def jitter(low: float, high: float) -> float:
    return random.uniform(low, high)


@dataclass
class Verdict:
    """What a run left behind: counts to print, and every broken invariant in words."""

    counts: dict[str, int]
    violations: list[str]


def check_invariants(
    database_url: str,
    case_ids: list[str],
    mail_ids: list[str],
    register_entries: list[dict[str, Any]],
    *,
    mails_may_be_lost: int = 0,
    data_dir: Path | None = None,
) -> Verdict:
    """Every invariant of issue 8 over the submitted cases.

    ``mail_ids`` are the Message-IDs the mail catcher received; ``register_entries`` what the
    sandbox Hundesteuerregister stored. Mail is at most once by design (SMTP cannot deduplicate):
    a worker killed between handing a mail over and recording it loses or leaves it unrecorded,
    so up to ``mails_may_be_lost`` missing mails are tolerated; a duplicate never is.
    """
    from collections import Counter

    from sqlmodel import Session, col, select

    from backend.db import build_engine
    from backend.domain.case_state import WITH_DECISION
    from backend.notifications.models import EmailOutbox, MailboxMessage
    from backend.records.audit import verify_all_chains
    from backend.records.models import Case, CaseEvent, Document

    if data_dir is not None:
        # The processes sealed personal data (the IdNr kept for re-reads, incomes, IBANs) with
        # the key in their data directory: read it with the same key.
        from backend.crypto import configure_keys, keys_for

        configure_keys(keys_for("", data_dir))
    violations: list[str] = []
    wanted = set(case_ids)
    if len(wanted) != len(case_ids):
        violations.append(f"{len(case_ids) - len(wanted)} submissions returned an existing case")
    engine = build_engine(database_url)
    try:
        with Session(engine) as session:
            cases = session.exec(select(Case)).all()
            events = session.exec(select(CaseEvent.case_id, CaseEvent.type)).all()
            documents = Counter(session.exec(select(Document.case_id)).all())
            messages = Counter(session.exec(select(MailboxMessage.case_id)).all())
            outbox = session.exec(
                select(EmailOutbox.id, EmailOutbox.status, MailboxMessage.case_id).join(
                    MailboxMessage, col(MailboxMessage.id) == col(EmailOutbox.message_id)
                )
            ).all()
            chains = verify_all_chains(session)
    finally:
        engine.dispose()

    stored = {c.id for c in cases}
    if stored != wanted:
        violations.append(
            f"cases in the database differ from those submitted: {len(stored - wanted)} "
            f"unknown, {len(wanted - stored)} missing"
        )
    settled = {str(s) for s in WITH_DECISION}
    unsettled = Counter(c.status for c in cases if c.status not in settled)
    if unsettled:
        violations.append(f"cases not in a terminal state: {dict(unsettled)}")
    undecided = [c.id for c in cases if c.decision is None or c.outcome is None]
    if undecided:
        violations.append(f"{len(undecided)} cases without a decision")

    by_case: dict[str, Counter[str]] = {cid: Counter() for cid in wanted}
    for case_id, kind in events:
        by_case.setdefault(case_id, Counter())[kind] += 1
    repeated = {cid: {k: n for k, n in kinds.items() if n > 1} for cid, kinds in by_case.items()}
    repeated = {cid: r for cid, r in repeated.items() if r}
    if repeated:
        sample = next(iter(repeated.items()))
        violations.append(f"{len(repeated)} cases with an event twice, e.g. {sample}")
    not_decided_once = [cid for cid, kinds in by_case.items() if kinds["decided"] != 1]
    if not_decided_once:
        violations.append(f"{len(not_decided_once)} cases without exactly one 'decided' event")
    if any(documents[cid] != 1 for cid in wanted) or set(documents) - wanted:
        bad = sum(1 for cid in wanted if documents[cid] != 1)
        violations.append(f"{bad} cases without exactly one notice")
    if any(messages[cid] != 1 for cid in wanted):
        bad = sum(1 for cid in wanted if messages[cid] != 1)
        violations.append(f"{bad} cases without exactly one mailbox message")

    written = Counter(str(e.get("case_id")) for e in register_entries)
    twice = {cid: n for cid, n in written.items() if n > 1}
    if twice:
        violations.append(f"{len(twice)} cases written to the register more than once")
    unrecorded = [cid for cid in wanted if written[cid] != by_case[cid]["registry_written"]]
    if unrecorded:
        violations.append(f"{len(unrecorded)} register entries do not match the case log")

    delivered = Counter(
        next((o for o, _, _ in outbox if o in mail_id), "unknown") for mail_id in mail_ids
    )
    dup_mails = {o: n for o, n in delivered.items() if n > 1 and o != "unknown"}
    if dup_mails:
        violations.append(f"{len(dup_mails)} mails sent more than once")
    mine = {o for o, _, cid in outbox if cid in wanted}
    sent = {o for o, status, _ in outbox if status == "sent"}
    if not sent <= set(delivered):
        violations.append(f"{len(sent - set(delivered))} mails recorded as sent never arrived")
    lost = len(mine - set(delivered))
    if lost > mails_may_be_lost:
        violations.append(f"{lost} mails never arrived (at most {mails_may_be_lost} tolerated)")

    broken = [r for r in chains if not r.ok]
    if broken:
        violations.append(
            f"{len(broken)} audit chains do not verify, e.g. case {broken[0].case_id}"
        )
    if len(chains) != len(stored):
        violations.append(f"{len(chains)} audit chains for {len(stored)} cases")

    counts = {
        "cases submitted": len(case_ids),
        "cases stored": len(stored),
        "cases decided": sum(1 for c in cases if c.status in settled),
        "decided events": sum(k["decided"] for k in by_case.values()),
        "notices": sum(documents.values()),
        "mailbox messages": sum(messages.values()),
        "register entries": sum(written.values()),
        "mails delivered": sum(delivered.values()),
        "mails lost": lost,
        "audit chains verified": len(chains) - len(broken),
    }
    return Verdict(counts, violations)
