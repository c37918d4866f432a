"""End-to-end automated processing throughput, as a ratio to the bare notice render on all cores.

Run from the repository root (PostgreSQL; the database is dropped and created, so never point
it at the tests' database):

    .venv/bin/python benchmarks/engine_throughput.py \
        [--database-url postgresql://postgres@127.0.0.1:5432/knopfdruck_bench] \
        [--cases 100] [--runs 1x2,2x2,4x1,1x4r2] [--repeat 3] [--renders 20]

Each run shape is ``PxC[rN]``: P worker processes, each taking C cases at once, with N render
processes per worker (``backend/documents/pool.py``; without ``rN`` the worker lays out in its
own threads). The shapes are run ``--repeat`` times, interleaved, so a change in the machine's
load hits them alike; each run submits ``--cases`` Meldebescheinigung applications (prefilled
over HTTP from the sandbox Melderegister, before any worker runs), starts the workers and
measures the rate at which certificates are stored, first to last, so start-up does not count.

The floor, measured in the same invocation before and after the runs: the same certificate
rendered with its signed QR code but no database write, in one single-threaded process per
core at once (``all-core bare renders/s``). Besides cases/s it reports per case the CPU of the
workers (with their render processes) and of the PostgreSQL server, and the server's
transactions, measured between 10 % and 90 % of the run's certificates stored; and one idle
worker's CPU over ``--idle`` seconds. The last line is
``two_core_ratio=<best median cases/s / all-core bare renders/s>`` (issue 22's goal: >= 0.8).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

from enginekit import (
    DEFAULT_DATABASE,
    SERVICE,
    Stack,
    bare_render_all_cores,
    cpu_seconds,
    machine,
    median,
    peak_rss_mib,
    postgres_pids,
    prepare_drafts,
    process_tree,
    reset_database,
    stack,
    start_workers,
    stop_workers,
    submit,
)
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from backend.records.models import Document
from backend.runtime import BUSY_HOLD_S

GOAL = 0.8


@dataclass
class Run:
    """One measured run of one shape."""

    rate: float
    worker_cpu_ms: float
    postgres_cpu_ms: float
    transactions: float
    peak_rss_mib: float


def _stored(session: Session, case_ids: list[str]) -> int:
    return int(session.exec(select(func.count()).where(col(Document.case_id).in_(case_ids))).one())


def _transactions(session: Session) -> int:
    """Commits and rollbacks of the benchmark's database so far (pg_stat_database).

    PostgreSQL keeps a transaction's view of the statistics until it ends, so end it first;
    backends report theirs at most once a second, which a window of seconds absorbs.
    """
    session.commit()
    row = session.connection().execute(
        text(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
    )
    return int(row.scalar_one())


def _parse(runs: str) -> list[tuple[int, int, int]]:
    shapes = []
    for run in runs.split(","):
        shape, _, render = run.strip().partition("r")
        workers, concurrency = (int(n) for n in shape.split("x"))
        shapes.append((workers, concurrency, int(render or 0)))
    return shapes


def _label(shape: tuple[int, int, int]) -> str:
    workers, concurrency, render = shape
    return f"{workers} x {concurrency}" + (f" r{render}" if render else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument(
        "--runs",
        default="1x2,2x2,4x1,1x4r2",
        help="shapes PxC[rN]: P worker processes x C cases at once, N render processes per "
        "worker; comma-separated (default 1x2,2x2,4x1,1x4r2)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per shape (default 3)")
    parser.add_argument("--renders", type=int, default=20, help="bare renders per process")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    args = parser.parse_args()
    shapes = _parse(args.runs)

    url = reset_database(args.database_url)
    if not url.startswith("postgresql"):
        raise SystemExit("the engine benchmark measures PostgreSQL (its server CPU per case)")
    results: dict[tuple[int, int, int], list[Run]] = {shape: [] for shape in shapes}
    loads: list[tuple[float, float, float]] = []
    with stack(url) as bench:
        ctx = bench.ctx
        # A decided case whose certificate the bare render repeats.
        [sample] = [submit(ctx, a) for a in prepare_drafts(ctx, SERVICE, 1)]
        processes = start_workers(bench.settings, 1, 1, bench.workdir)
        try:
            with Session(ctx.engine) as session:
                while _stored(session, [sample]) < 1:
                    time.sleep(0.1)
            # The worker has started and finished its case: what does it cost doing nothing?
            # Past the worker's busy hold (backend/runtime.py), so its idle polling is measured.
            time.sleep(BUSY_HOLD_S + 2)
            pids = process_tree(processes[0].pid)
            before = cpu_seconds(pids)
            time.sleep(args.idle)
            idle_share = (cpu_seconds(pids) - before) / args.idle
        finally:
            stop_workers(processes)
        floor = [bare_render_all_cores(bench.settings, sample, args.renders)]
        for _ in range(args.repeat):
            for shape in shapes:
                results[shape].append(_one_run(bench, shape, args.cases))
                loads.append(os.getloadavg())
        floor.append(bare_render_all_cores(bench.settings, sample, args.renders))

    all_core = median(floor)
    print(f"\nEngine throughput: {SERVICE}, {args.cases} cases per run, {machine()}")
    print(
        f"database: {url.rsplit('@', 1)[-1]}; all-core bare renders/s "
        f"{' / '.join(f'{f:.2f}' for f in floor)} (before / after), median {all_core:.2f}"
    )
    print(
        "load average (1 min) after each run: "
        + ", ".join(f"{load[0]:.1f}" for load in loads)
        + f"; idle worker: {idle_share * 100:.1f} % of a core over {args.idle:.0f} s"
    )
    print()
    header = (
        f"{'workers x conc.':>15} | {'cases/s (runs)':>22} | {'median':>6} | {'ratio':>5} |"
        f" {'worker CPU/case':>15} | {'PG CPU/case':>11} | {'PG xacts/case':>13} |"
        f" {'peak RSS/worker':>15}"
    )
    print(header)
    print("-" * len(header))
    best = 0.0
    for shape, runs in results.items():
        rate = median([r.rate for r in runs])
        best = max(best, rate)
        print(
            f"{_label(shape):>15} | {', '.join(f'{r.rate:.2f}' for r in runs):>22} |"
            f" {rate:>6.2f} | {rate / all_core:>5.2f} |"
            f" {median([r.worker_cpu_ms for r in runs]):>12.0f} ms |"
            f" {median([r.postgres_cpu_ms for r in runs]):>8.0f} ms |"
            f" {median([r.transactions for r in runs]):>13.1f} |"
            f" {max(r.peak_rss_mib for r in runs):>11.0f} MiB"
        )
    one = [s for s in shapes if s[0] == 1 and s[2] == 0]
    two = [s for s in shapes if s[0] == 2 and s[2] == 0]
    if one and two:
        scale = median([r.rate for r in results[two[0]]]) / median(
            [r.rate for r in results[one[0]]]
        )
        print(f"\nscale-out {_label(one[0])} -> {_label(two[0])}: {scale:.2f}x (goal >= 1.8)")
    print(f"goal: two_core_ratio >= {GOAL}; bare render CPU per case {1000 * 2 / all_core:.0f} ms")
    print(f"two_core_ratio={best / all_core:.2f}")
    return 0


def _one_run(bench: Stack, shape: tuple[int, int, int], cases: int) -> Run:
    """Submit ``cases`` applications, let the shape's workers process them, and measure."""
    workers, concurrency, render = shape
    ctx = bench.ctx
    drafts = prepare_drafts(ctx, SERVICE, cases)
    case_ids = [submit(ctx, a) for a in drafts]
    started = time.monotonic()
    processes = start_workers(
        bench.settings, workers, concurrency, bench.workdir, render_processes=render
    )
    window: list[tuple[int, float, float, int]] = []
    """(stored, workers' CPU s, PostgreSQL's CPU s, transactions) at 10 % and at 90 % stored:
    the steady state, without the workers' start-up or the last cases' tail."""

    def snapshot(session: Session, stored: int) -> tuple[int, float, float, int]:
        workers_cpu = sum(cpu_seconds(process_tree(p.pid)) for p in processes)
        return stored, workers_cpu, cpu_seconds(postgres_pids()), _transactions(session)

    try:
        with Session(ctx.engine) as session:
            while (stored := _stored(session, case_ids)) < len(case_ids):
                for p in processes:
                    if p.poll() is not None:
                        raise SystemExit(f"worker {p.pid} died; see {bench.workdir}")
                if time.monotonic() - started > 900:
                    raise SystemExit("not all notices stored within 15 minutes")
                if len(window) == 0 and stored >= cases // 10:
                    window.append(snapshot(session, stored))
                if len(window) == 1 and stored >= cases * 9 // 10:
                    window.append(snapshot(session, stored))
                    rss = [peak_rss_mib(p.pid) for p in processes]
                time.sleep(0.1)
                session.expire_all()
            stamps = sorted(
                session.exec(
                    select(Document.created_at).where(col(Document.case_id).in_(case_ids))
                ).all()
            )
        if len(window) < 2:
            raise SystemExit("too few cases to measure a steady state: raise --cases")
    finally:
        stop_workers(processes)
    span = (stamps[-1] - stamps[0]).total_seconds()
    (n0, w0, p0, x0), (n1, w1, p1, x1) = window
    done = max(1, n1 - n0)
    return Run(
        rate=(len(stamps) - 1) / span,
        # PostgreSQL's share includes the benchmark's own progress query (ten a second).
        worker_cpu_ms=1000 * (w1 - w0) / done,
        postgres_cpu_ms=1000 * (p1 - p0) / done,
        transactions=(x1 - x0) / done,
        peak_rss_mib=max(rss),
    )


if __name__ == "__main__":
    raise SystemExit(main())
