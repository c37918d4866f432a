"""Chaos: web and workers on PostgreSQL, kill -9 at random times, then check every invariant.

Run from the repository root (the database is dropped and created: never the tests' one):

    .venv/bin/python benchmarks/chaos.py \
        [--database-url postgresql://postgres@127.0.0.1:5432/knopfdruck_chaos] \
        [--cases 2000] [--webs 2] [--workers 3] [--clients 8] [--worker-kills 6] [--seed N]

It starts the compose topology as processes (migrate once, sandbox, ``--webs`` web processes
with ``serve --no-worker``, ``--workers`` workers; tests/integration/topologykit.py) and a mail
catcher, and lets ``--clients`` citizens submit ``--cases`` Hundeanmeldungen over the JSON API
(start, answer, submit), spread over the web processes and failing over as a load balancer
would. Meanwhile it kills one web process once, while citizens submit, and random workers
every few seconds, each with SIGKILL at a random moment, and restarts each after a random
pause. When every case is settled it checks:

- every submitted case is stored once and reached a terminal state with a decision;
- exactly one ``decided`` event, one notice and one mailbox message per case, no event twice;
- no register entry twice, and each matches the case log; no mail sent twice (a mail the
  killed worker was handing over may be lost: at most 4 per kill, the mail queue's concurrency);
- every audit hash chain verifies.

It prints the counts and exits 1 on any violation (2 when the run itself could not finish).
"""

from __future__ import annotations

import argparse
import email.policy
import random
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlmodel import Session, col, func, select  # noqa: E402

from backend.db import build_engine  # noqa: E402
from backend.domain.case_state import WITH_DECISION  # noqa: E402
from backend.records.models import Case, WorkerHeartbeat  # noqa: E402
from tests.integration.topologykit import (  # noqa: E402
    Citizen,
    Topology,
    check_invariants,
    fresh_database,
    wait_until,
)
from tests.livesrv import free_port  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/knopfdruck_chaos"
ADDRESS = "erika.chaos@example.org"
MAILS_PER_KILL = 4
"""Concurrency of the notification queue: mails one killed worker may have been handing over."""


class MailCatcher:
    """aiosmtpd on loopback; keeps the Message-ID of every mail it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.message_ids: list[str] = []
        outer = self

        class Keep:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
                parsed = BytesParser(policy=email.policy.default).parsebytes(envelope.content)
                outer.message_ids.append(str(parsed["Message-ID"]))
                return "250 Message accepted for delivery"

        self.controller = Controller(Keep(), hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.port: int = self.controller.port

    def stop(self) -> None:
        self.controller.stop()


class Chaos:
    """Kills at random moments, from its own thread, until told to stop."""

    def __init__(self, topology: Topology, rng: random.Random, worker_kills: int) -> None:
        self.topology = topology
        self.rng = rng
        self.worker_kills_left = worker_kills
        self.log: list[str] = []
        self.web_killed = False
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.restarting: set[str] = set()
        self.threads: list[threading.Thread] = []
        self.started = time.monotonic()

    def note(self, text: str) -> None:
        line = f"{time.monotonic() - self.started:7.1f} s  {text}"
        self.log.append(line)
        print(line, flush=True)

    def kill_and_restart(self, name: str) -> None:
        with self.lock:
            self.restarting.add(name)
            pause = self.rng.uniform(0.5, 3.0)
        try:
            pid = self.topology.kill(name)
            self.note(f"kill -9 {name} (pid {pid})")
            time.sleep(pause)
            self.topology.restart(name)
            self.note(
                f"restarted {name} after {pause:.1f} s (pid {self.topology.processes[name].pid})"
            )
        finally:
            with self.lock:
                self.restarting.discard(name)

    def kill_a_web_process(self) -> None:
        webs = sorted(n for n in self.topology.processes if n.startswith("web-"))
        self.web_killed = True
        thread = threading.Thread(target=self.kill_and_restart, args=(self.rng.choice(webs),))
        thread.start()
        self.threads.append(thread)

    def run_worker_kills(self, cases: int) -> None:
        # Spread over the run: a case takes roughly 0.6 s of this machine's time, so the kills
        # land anywhere from the first submissions to the last decisions.
        longest = max(8.0, 0.6 * cases / max(1, self.worker_kills_left))
        while self.worker_kills_left > 0 and not self.stop.wait(self.rng.uniform(2.0, longest)):
            workers = sorted(n for n in self.topology.processes if n.startswith("worker-"))
            self.kill_and_restart(self.rng.choice(workers))
            self.worker_kills_left -= 1

    @property
    def worker_kills(self) -> int:
        return sum(1 for line in self.log if "kill -9 worker" in line)


def settled_count(engine: Any) -> int:
    settled = [str(s) for s in WITH_DECISION]
    with Session(engine) as session:
        return int(session.exec(select(func.count()).where(col(Case.status).in_(settled))).one())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--webs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="per worker")
    parser.add_argument("--clients", type=int, default=8, help="citizens submitting at once")
    parser.add_argument("--worker-kills", type=int, default=6)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout-s", type=float, default=0, help="default: 60 + 1.5 s per case")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("the chaos run is defined on PostgreSQL (issue 8)")
    # SIGTERM (a CI timeout) still stops every process this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    timeout_s = args.timeout_s or 60 + 1.5 * args.cases
    print(f"chaos: {args.cases} cases, {args.webs} web, {args.workers} workers, seed {seed}")

    fresh_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="knopfdruck-chaos-"))
    mail = MailCatcher()
    topology = Topology(
        args.database_url,
        workdir,
        "127.0.0.1",
        mail.port,
        worker_concurrency=args.concurrency,
    )
    citizen = Citizen(topology, timeout_s=180)
    chaos = Chaos(topology, rng, args.worker_kills)
    engine = build_engine(args.database_url)
    started = time.monotonic()
    try:
        topology.start(webs=args.webs, workers=args.workers)

        def heartbeats() -> int:
            with Session(engine) as session:
                return int(session.exec(select(func.count()).select_from(WorkerHeartbeat)).one())

        wait_until(lambda: heartbeats() >= args.workers, 120, "worker heartbeats")
        r = citizen.call("PUT", "/me/notification-email", 0, json={"email": ADDRESS})
        r.raise_for_status()

        web_kill_at = rng.randint(max(1, args.cases // 10), max(2, args.cases * 6 // 10))
        submitted = [0]
        counter = threading.Lock()

        def apply(index: int) -> str:
            _, case_id = citizen.apply(index % args.webs)
            with counter:
                submitted[0] += 1
                if submitted[0] == web_kill_at:
                    chaos.kill_a_web_process()
            return case_id

        chaos.started = time.monotonic()
        killer = threading.Thread(target=chaos.run_worker_kills, args=(args.cases,), daemon=True)
        killer.start()
        with ThreadPoolExecutor(args.clients) as pool:
            case_ids = list(pool.map(apply, range(args.cases)))
        submit_s = time.monotonic() - started
        print(f"submitted {len(case_ids)} cases in {submit_s:.1f} s", flush=True)

        deadline = time.monotonic() + timeout_s
        while settled_count(engine) < args.cases:
            with chaos.lock:
                dead = [n for n in topology.dead() if n not in chaos.restarting]
            if dead:
                print(topology.log_tail(dead[0]), file=sys.stderr)
                print(f"chaos: {dead[0]} died on its own", file=sys.stderr)
                return 2
            if time.monotonic() > deadline:
                print(
                    f"chaos: only {settled_count(engine)} of {args.cases} settled", file=sys.stderr
                )
                break
            time.sleep(0.5)
        chaos.stop.set()
        killer.join(timeout=60)
        for thread in chaos.threads:
            thread.join(timeout=300)  # a web restart in progress
        # Mails leave after the decision, on their own queue.
        kills = chaos.worker_kills
        # Mails leave after the decision, on their own queue: wait until none arrive for 10 s.
        mail_deadline = time.monotonic() + 90
        last_count, last_change = -1, time.monotonic()
        while len(mail.message_ids) < args.cases and time.monotonic() < mail_deadline:
            if len(mail.message_ids) != last_count:
                last_count, last_change = len(mail.message_ids), time.monotonic()
            elif time.monotonic() - last_change > 10:
                break
            time.sleep(0.5)
        total_s = time.monotonic() - started
        entries = httpx.get(
            f"{topology.sandbox_url}/sandbox/registries/hundesteuerregister/v1/_eintraege",
            timeout=30,
        ).json()["eintraege"]
        verdict = check_invariants(
            args.database_url,
            case_ids,
            list(mail.message_ids),
            entries,
            mails_may_be_lost=MAILS_PER_KILL * kills,
            data_dir=topology.data_dir,
        )
    finally:
        chaos.stop.set()
        citizen.close()
        topology.stop()
        engine.dispose()
        mail.stop()

    print()
    print(f"| run | {args.cases} cases, {args.webs} web x {args.workers} workers, seed {seed} |")
    print("|---|---|")
    print(f"| web processes killed | {int(chaos.web_killed)} |")
    print(f"| workers killed | {kills} |")
    print(f"| requests failed over to another web process | {citizen.failovers} |")
    for name, value in verdict.counts.items():
        print(f"| {name} | {value} |")
    print(f"| submit phase | {submit_s:.1f} s |")
    print(f"| total | {total_s:.1f} s |")
    if verdict.violations:
        print("\nINVARIANTS VIOLATED:")
        for violation in verdict.violations:
            print(f"- {violation}")
        print(f"logs kept in {workdir}")
        return 1
    print("\nall invariants hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
