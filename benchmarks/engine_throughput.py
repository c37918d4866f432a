"""End-to-end automated processing throughput, as a ratio to the bare notice render rate.

Run from the repository root (PostgreSQL; the database is dropped and created, so never point
it at the tests' database):

    .venv/bin/python benchmarks/engine_throughput.py \
        [--database-url postgresql://postgres@127.0.0.1:5432/knopfdruck_bench] \
        [--cases 200] [--runs 1x4,2x4,1x4r2] [--renders 30]

For each run (worker processes x concurrency, with ``rN``: N render processes per worker,
``backend/documents/pool.py``) it submits ``--cases`` Meldebescheinigung
applications (prefilled over HTTP from the sandbox Melderegister, before any worker runs),
starts the ``knopfdruck worker`` processes and measures the rate at which certificates are
stored, from the first to the last (so worker start-up does not count). Right before and right
after each run, with no worker running, it renders the same certificate in this process
(``--renders`` times in all), exactly as the worker does (signed QR code included) but without
any database write: the physical floor of one case. It prints cases/s, the median bare render
time, the ratio of the two rates (goal: >= 0.8), and each worker's peak resident memory
(VmHWM).
"""

from __future__ import annotations

import argparse
import os
import time

from enginekit import (
    DEFAULT_DATABASE,
    SERVICE,
    bare_render_seconds,
    machine,
    median,
    peak_rss_mib,
    prepare_drafts,
    reset_database,
    stack,
    start_workers,
    stop_workers,
    submit,
)
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.records.models import Document

GOAL = 0.8


def _stored(session: Session, case_ids: list[str]) -> int:
    return int(session.exec(select(func.count()).where(col(Document.case_id).in_(case_ids))).one())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument(
        "--runs",
        default="1x4,2x4,1x4r2",
        help="worker processes x concurrency per run, rN: N render processes per worker; "
        "comma-separated (default 1x4,2x4,1x4r2)",
    )
    parser.add_argument("--renders", type=int, default=30)
    args = parser.parse_args()
    runs = []
    for run in args.runs.split(","):
        shape, _, render = run.partition("r")
        workers, concurrency = (int(n) for n in shape.split("x"))
        runs.append((workers, concurrency, int(render or 0)))

    url = reset_database(args.database_url)
    rows: list[tuple[str, float, float, float, float]] = []
    with stack(url) as bench:
        ctx = bench.ctx
        # A decided case whose certificate the bare render repeats.
        [sample] = [submit(ctx, a) for a in prepare_drafts(ctx, SERVICE, 1)]
        processes = start_workers(bench.settings, 1, 1, bench.workdir)
        try:
            with Session(ctx.engine) as session:
                while _stored(session, [sample]) < 1:
                    time.sleep(0.1)
        finally:
            stop_workers(processes)
        for workers, concurrency, render in runs:
            drafts = prepare_drafts(ctx, SERVICE, args.cases)
            case_ids = [submit(ctx, a) for a in drafts]
            # The floor is measured right before and right after each run, so a change in
            # the machine's load during the run shows in both numbers alike.
            renders = bare_render_seconds(ctx, sample, args.renders // 2)
            started = time.monotonic()
            processes = start_workers(
                bench.settings, workers, concurrency, bench.workdir, render_processes=render
            )
            try:
                with Session(ctx.engine) as session:
                    while _stored(session, case_ids) < len(case_ids):
                        for p in processes:
                            if p.poll() is not None:
                                raise SystemExit(f"worker {p.pid} died; see {bench.workdir}")
                        if time.monotonic() - started > 900:
                            raise SystemExit("not all notices stored within 15 minutes")
                        time.sleep(0.1)
                        session.expire_all()
                    stamps = sorted(
                        session.exec(
                            select(Document.created_at).where(col(Document.case_id).in_(case_ids))
                        ).all()
                    )
                rss = [peak_rss_mib(p.pid) for p in processes]
            finally:
                stop_workers(processes)
            wall = time.monotonic() - started
            renders += bare_render_seconds(ctx, sample, args.renders - args.renders // 2)
            span = (stamps[-1] - stamps[0]).total_seconds()
            rate = (len(stamps) - 1) / span
            label = f"{workers} x {concurrency}" + (f" r{render}" if render else "")
            rows.append((label, rate, median(renders), wall, max(rss)))

    print(f"\nEngine throughput: {SERVICE}, {args.cases} cases per run, {machine()}")
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"database: {url.rsplit('@', 1)[-1]}; bare render: the same certificate with its "
        f"signed QR, no database, one process; load average after the runs {load}"
    )
    print()
    print(
        f"{'workers x conc.':>15} | {'cases/s':>8} | {'bare render':>11} | {'renders/s':>9} |"
        f" {'ratio':>5} | {'wall incl. start':>16} | {'peak RSS/worker':>15}"
    )
    print(f"{'-' * 15}-+-{'-' * 8}-+-{'-' * 11}-+-{'-' * 9}-+-{'-' * 5}-+-{'-' * 16}-+-{'-' * 15}")
    for label, rate, render_s, wall, peak in rows:
        print(
            f"{label:>15} | {rate:>8.2f} | {render_s * 1000:>8.0f} ms | {1 / render_s:>9.2f} |"
            f" {rate * render_s:>5.2f} | {wall:>14.1f} s | {peak:>11.0f} MiB"
        )
    print(f"\ngoal: ratio >= {GOAL}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
