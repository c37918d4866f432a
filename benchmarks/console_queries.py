"""Console query latency with 100,000 cases in PostgreSQL: worklist and dashboard, p95.

Run from the repository root (PostgreSQL; the database is dropped and created, so never point
it at the tests' database):

    .venv/bin/python benchmarks/console_queries.py \
        [--database-url postgresql://postgres@127.0.0.1:5432/h_insight_bench] \
        [--cases 100000] [--repeat 40] [--tenants 1]

It migrates an empty database, bulk-loads synthetic cases with COPY (one year of submissions,
several departments, a realistic mix of automated, manual, referred and open cases with their
case-log events, tasks, assignments and QA findings), then measures in one process, each
``--repeat`` times after a warm-up:

- a primary-key lookup of a case (the baseline every ratio is measured against),
- the worklist as the console asks for it (backend/console/worklist.py: first page, and a
  filtered page), with the total count,
- the dashboard: every KPI query (backend/console/kpis/ ``department_kpis``) and the
  30-day trend (``daily_trend``), for the largest department.

It prints p50 and p95 per query, the ratio p95 / baseline p95 and p95 / worklist p95 (the
ratio issue 17 asks for), then empties the precomputed decision facts (``kpi_decisions``,
issue 17, item 9) and measures again, so the table shows what the facts save, and last drops
the indexes of migration 0006_insight as well, so it shows which index carries which query.
Goal (issues 6 and 17): worklist and dashboard each p95 < 300 ms. ``--tenants 100`` spreads the
cases over 100 tenants (department keys carry the tenant, backend/tenants/models.py) and
measures the largest office of one of them (issue 13).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from backend.console import kpis
from backend.console.worklist import WorklistFilter, worklist
from backend.db import build_engine, normalise_url
from backend.department.identity import ClerkIdentity
from backend.migrate import upgrade_database
from backend.records.kpi_facts import backfill

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/h_insight_bench"
GOAL_MS = 300.0
DEPARTMENTS = {
    # department: (share of cases, services)
    "buergeramt": (0.45, ["meldebescheinigung", "beglaubigung", "registerabruf"]),
    "ordnungsamt": (0.20, ["sondernutzung", "gewerbeanzeige"]),
    "strassenverkehrsamt": (0.20, ["bewohnerparken"]),
    "steueramt": (0.15, ["hundeanmeldung"]),
}
INSIGHT_INDEXES = {
    "ix_cases_department_submitted_at": "cases (department, submitted_at)",
    "ix_cases_department_decided_at": "cases (department, decided_at)",
    "ix_case_events_type_at": "case_events (type, at)",
    "ix_case_events_case_id_type": "case_events (case_id, type)",
}
REASONS = ["disputed_data", "remark", "registry_failure", "qa_sample", "threshold"]


def reset_database(url: str) -> None:
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("postgresql"):
        raise SystemExit("the benchmark needs PostgreSQL (100,000 cases)")
    if parsed.database in ("test", "postgres"):
        raise SystemExit(f"refusing to drop database {parsed.database!r}")
    admin = create_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    upgrade_database(url)


def _hex() -> str:
    return uuid.uuid4().hex


def _department(rng: random.Random) -> str:
    roll, acc = rng.random(), 0.0
    for name, (share, _services) in DEPARTMENTS.items():
        acc += share
        if roll < acc:
            return name
    return next(reversed(DEPARTMENTS))


class Loader:
    """Synthetic rows written with COPY: applications, cases, events, tasks, assignments, QA."""

    def __init__(self, rng: random.Random, now: datetime, tenants: int = 1) -> None:
        self.rng = rng
        self.now = now
        self.tenants = tenants
        self.applications: list[tuple[Any, ...]] = []
        self.cases: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []
        self.tasks: list[tuple[Any, ...]] = []
        self.assignments: list[tuple[Any, ...]] = []
        self.qa: list[tuple[Any, ...]] = []

    def event(
        self, case_id: str, seq: int, at: datetime, kind: str, actor: str, **payload: Any
    ) -> None:
        self.events.append(
            (
                case_id,
                seq,
                at,
                kind,
                actor,
                None,
                json.dumps(payload),
                None,
                "0" * 64,
                _hex() + _hex(),
            )
        )

    def case(self, index: int) -> None:
        rng = self.rng
        office = _department(rng)
        service = rng.choice(DEPARTMENTS[office][1])
        # Spread over tenants (issue 13): tenant 0 is the home tenant with plain department
        # keys and no tenant on its rows, the others carry "t001." etc. in every department key.
        owner = rng.randrange(self.tenants)
        tenant = f"t{owner:03d}" if owner else None
        department = f"{tenant}.{office}" if tenant else office
        submitted = self.now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        app_id, case_id = _hex(), _hex()
        citizen = f"bench-{rng.randrange(20000)}"
        self.applications.append(
            (
                app_id,
                service,
                "1.0.0",
                citizen,
                "submitted",
                "{}",
                "{}",
                "{}",
                None,
                submitted,
                submitted,
                submitted,
            )
        )
        roll = rng.random()
        decided_at = None
        decision: dict[str, Any] | None = None
        outcome: str | None = None
        status = "notified"
        self.event(case_id, 1, submitted, "submitted", "citizen")
        self.event(case_id, 2, submitted + timedelta(seconds=0.2), "processing_started", "system")
        clerk = f"clerk:bench-{department}-{rng.randrange(8)}"
        if roll < 0.80:  # decided by the machine within seconds
            at = submitted + timedelta(seconds=rng.uniform(0.5, 6))
            outcome = "approved" if rng.random() < 0.93 else "rejected"
            decision = {"outcome": outcome, "referral_reasons": []}
            self.event(case_id, 3, at, "decided", "system", outcome=outcome)
            self.event(case_id, 4, at, "case_decided", "system", outcome=outcome)
            self.event(case_id, 5, at, "citizen_notified", "system")
            decided_at = at
            status = "closed" if at < self.now - timedelta(days=35) else "notified"
        else:
            reasons = rng.sample(REASONS, rng.randint(1, 2))
            referred_at = submitted + timedelta(seconds=3)
            decision = {
                "outcome": "referred",
                "referral_reasons": reasons,
                "proposed_outcome": "approved",
            }
            outcome = "referred"
            self.event(case_id, 3, referred_at, "referred", "system", referral_reasons=reasons)
            if roll < 0.93 and submitted < self.now - timedelta(days=2):  # a person decided
                at = referred_at + timedelta(hours=rng.uniform(2, 24 * 20))
                at = min(at, self.now)
                outcome = "approved" if rng.random() < 0.85 else "rejected"
                self.event(case_id, 4, at, "case_decided", clerk, outcome=outcome)
                decided_at = at
                status = "notified"
                if "qa_sample" in reasons:
                    self.qa.append(
                        (
                            case_id,
                            department,
                            service,
                            "approved",
                            outcome,
                            outcome != "approved",
                            clerk[6:],
                            "bench",
                            at,
                        )
                    )
            else:  # still open: the department's backlog
                status = rng.choice(
                    ["referred"] * 6 + ["in_review", "awaiting_citizen", "objection"]
                )
                if status in ("in_review", "objection"):
                    kind = "human_review" if status == "in_review" else "objection"
                    self.tasks.append(
                        (
                            _hex(),
                            case_id,
                            department,
                            kind,
                            f"{kind}:1",
                            "open",
                            None,
                            "§ 1",
                            "citizen",
                            referred_at,
                            None,
                            None,
                        )
                    )
                if rng.random() < 0.5:
                    self.assignments.append(
                        (case_id, department, clerk[6:], "Bench Clerk", clerk[6:], referred_at)
                    )
        self.cases.append(
            (
                case_id,
                f"KD-B-{index:08d}",
                app_id,
                service,
                "1.0.0",
                department,
                citizen,
                status,
                submitted.date(),
                json.dumps({"values": {"anzahl": rng.randint(1, 5)}}),
                json.dumps(decision) if decision else None,
                outcome,
                None,
                submitted,
                decided_at,
                decided_at or submitted,
                tenant,
            )
        )

    def copy(self, url: str) -> None:
        tables = [
            (
                "applications",
                "id, service, service_version, citizen_sub, status, prefill, "
                "answers, disputes, remark, created_at, updated_at, submitted_at",
                self.applications,
            ),
            (
                "cases",
                "id, reference, application_id, service, service_version, department, "
                "citizen_sub, status, reference_date, data, decision, outcome, waiting_for, "
                "submitted_at, decided_at, updated_at, tenant",
                self.cases,
            ),
            (
                "case_events",
                "case_id, seq, at, type, actor, reason, payload, idempotency_key, prev_hash, hash",
                self.events,
            ),
            (
                "case_tasks",
                "id, case_id, department, kind, key, status, "
                "statement, legal_basis, created_by, created_at, due_on, closed_at",
                self.tasks,
            ),
            (
                "case_assignments",
                "case_id, department, assignee, assignee_name, assigned_by, assigned_at",
                self.assignments,
            ),
            (
                "qa_reviews",
                "case_id, department, service, machine_outcome, "
                "final_outcome, overturned, clerk, reason, at",
                self.qa,
            ),
        ]
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            with conn.cursor() as cur:
                for table, columns, rows in tables:
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                cur.execute("ANALYZE")
            conn.commit()


def measure(run: Callable[[], object], repeat: int) -> list[float]:
    run()  # warm-up: plan cache, buffers
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def queries(session: Session, department: str) -> dict[str, Callable[[], object]]:
    clerk = ClerkIdentity("bench", "Bench Clerk", department, ("clerk", "supervisor"))
    services = DEPARTMENTS[department.rpartition(".")[2]][1]
    ids = session.execute(text("SELECT id FROM cases ORDER BY random() LIMIT 200"))
    any_case: list[str] = [str(row[0]) for row in ids]
    now = datetime.now(UTC)
    picks = iter(any_case * 1000)

    def pk_lookup() -> object:
        return session.execute(
            text("SELECT id, status, service FROM cases WHERE id = :id"), {"id": next(picks)}
        ).one()

    def first_page() -> object:
        return worklist(session, clerk, WorklistFilter())

    def filtered_page() -> object:
        return worklist(
            session,
            clerk,
            WorklistFilter(service=services[0], reason="referred", sort="newest", page=3),
        )

    def dashboard() -> object:
        return kpis.department_kpis(session, department, services, now=now)

    def trend() -> object:
        return kpis.daily_trend(session, department, now=now, days=30)

    def dashboard_page() -> object:
        return kpis.dashboard(session, department, services, now=now)

    return {
        "baseline: case by primary key": pk_lookup,
        "worklist, first page (+ total)": first_page,
        "worklist, service + reason filter, page 3": filtered_page,
        "dashboard KPIs (department_kpis)": dashboard,
        "dashboard trend, 30 days": trend,
        "dashboard page (KPIs + trend, decisions read once)": dashboard_page,
    }


def run_all(engine: Engine, department: str, repeat: int) -> list[tuple[str, float, float]]:
    results = []
    # Each query in its own transaction, as a request would; the session ends before any DDL.
    with Session(engine) as session:
        for name, run in queries(session, department).items():

            def one(run: Callable[[], object] = run) -> None:
                run()
                session.rollback()

            times = measure(one, repeat)
            results.append((name, statistics.median(times), p95(times)))
    return results


def table(title: str, results: list[tuple[str, float, float]]) -> str:
    base = results[0][2]
    lines = [
        title,
        "",
        "| query | p50 ms | p95 ms | p95 / baseline | p95 / worklist | < 300 ms |",
        "|---|---|---|---|---|---|",
    ]
    worklist_p95 = results[1][2]
    for name, p50, p95_ms in results:
        ok = "" if name.startswith("baseline") else ("yes" if p95_ms < GOAL_MS else "**no**")
        lines.append(
            f"| {name} | {p50:.2f} | {p95_ms:.2f} | {p95_ms / base:.0f} "
            f"| {p95_ms / worklist_p95:.2f} | {ok} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--tenants",
        type=int,
        default=1,
        help="spread the cases over this many tenants and measure one of them (issue 13)",
    )
    args = parser.parse_args()
    url = normalise_url(args.database_url)

    started = time.perf_counter()
    reset_database(url)
    loader = Loader(random.Random(args.seed), datetime.now(UTC), args.tenants)
    for index in range(args.cases):
        loader.case(index)
    loader.copy(url)
    loaded = time.perf_counter() - started
    print(
        f"loaded {len(loader.cases)} cases, {len(loader.events)} events, "
        f"{len(loader.tasks)} tasks, {len(loader.assignments)} assignments, "
        f"{len(loader.qa)} QA findings in {loaded:.1f} s "
        f"(load average {os.getloadavg()[0]:.1f})\n"
    )
    department = max(DEPARTMENTS, key=lambda name: DEPARTMENTS[name][0])
    if args.tenants > 1:
        department = f"t001.{department}"  # one tenant's office among all of them
    # One engine for the whole run: on a shared server a second connection may not be free.
    engine = build_engine(url)
    # The dashboard's decision facts, as upgrade_database writes them for an existing database
    # (the bulk load bypasses the application, which writes them with each decision).
    started = time.perf_counter()
    facts = backfill(engine)
    print(f"precomputed {facts} decision facts in {time.perf_counter() - started:.1f} s\n")
    with_indexes = run_all(engine, department, args.repeat)
    print(
        table(
            f"With every index and the precomputed facts (department {department}, "
            f"{args.repeat} runs each):",
            with_indexes,
        )
    )

    # The same queries as before issue 17: every decision recounted from the case logs.
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM kpi_decisions"))
        conn.execute(text("ANALYZE kpi_decisions"))
        conn.commit()
    recounted = run_all(engine, department, args.repeat)
    print()
    print(table("Without the precomputed facts (recounted from the case logs):", recounted))

    with engine.connect() as conn:
        for name in INSIGHT_INDEXES:
            conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
        conn.execute(text("ANALYZE"))
        conn.commit()
    without = run_all(engine, department, args.repeat)
    engine.dispose()
    print()
    print(table("Without the facts and without the indexes of migration 0006_insight:", without))
    print(
        "\nIndexes of 0006_insight: " + "; ".join(f"{k} on {v}" for k, v in INSIGHT_INDEXES.items())
    )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    failed = [name for name, _p50, p in with_indexes[1:] if p >= GOAL_MS]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
