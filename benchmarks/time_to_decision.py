"""Time from submit to decision at a steady load: p50 and p95, and each worker's peak memory.

Run from the repository root (PostgreSQL; the database is dropped and created, so never point
it at the tests' database):

    .venv/bin/python benchmarks/time_to_decision.py \
        [--database-url postgresql://postgres@127.0.0.1:5432/knopfdruck_bench] \
        [--rate 5] [--seconds 60] [--workers 2] [--concurrency 4]

It prepares ``rate x seconds`` Meldebescheinigung drafts (prefilled over HTTP from the
sandbox), starts the workers, warms each of them up with a few cases, and then submits at a
steady ``--rate`` per second (on a fixed schedule, so a slow submit does not lower the load).
For every case it takes the submit time and two times from the case log: ``decided`` (the
decision with its reasons is stored and shown on the case page) and ``citizen_notified`` (the
certificate is issued and the mailbox message is there). It prints p50, p95 and max of both,
the achieved submit rate, and each worker's peak resident memory (VmHWM). Goals:
p50 < 2 s and p95 < 5 s.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import datetime

from enginekit import (
    DEFAULT_DATABASE,
    SERVICE,
    machine,
    peak_rss_mib,
    percentile,
    prepare_drafts,
    reset_database,
    stack,
    start_workers,
    stop_workers,
    submit,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from backend.columns import aware
from backend.records.models import Case, CaseEvent

GOAL_P50_S = 2.0
GOAL_P95_S = 5.0
WARM_UP = 4


def _count(session: Session, case_ids: list[str], event: str) -> int:
    return int(
        session.exec(
            select(func.count()).where(
                col(CaseEvent.case_id).in_(case_ids), CaseEvent.type == event
            )
        ).one()
    )


def _wait_for(engine: Engine, case_ids: list[str], event: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    with Session(engine) as session:
        while _count(session, case_ids, event) < len(case_ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"not every case reached '{event}' within {limit_s:.0f} s")
            time.sleep(0.1)
            session.expire_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    total = int(args.rate * args.seconds)

    url = reset_database(args.database_url)
    with stack(url) as bench:
        ctx = bench.ctx
        warm = prepare_drafts(ctx, SERVICE, WARM_UP * args.workers)
        drafts = prepare_drafts(ctx, SERVICE, total)
        processes = start_workers(
            bench.settings,
            args.workers,
            args.concurrency,
            bench.workdir,
        )
        try:
            warm_ids = [submit(ctx, a) for a in warm]
            _wait_for(ctx.engine, warm_ids, "citizen_notified", 120)

            submitted: dict[str, datetime] = {}
            lock = threading.Lock()
            start = time.monotonic() + 0.5

            def submitter(offset: int, stride: int) -> None:
                for index in range(offset, total, stride):
                    delay = start + index / args.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    case_id = submit(ctx, drafts[index])
                    with lock:
                        submitted[case_id] = datetime.now().astimezone()

            # Two submitters, so one slow commit does not push the schedule back.
            threads = [threading.Thread(target=submitter, args=(i, 2)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            submit_span = time.monotonic() - start
            case_ids = list(submitted)
            _wait_for(ctx.engine, case_ids, "citizen_notified", 900)
            rss = [peak_rss_mib(p.pid) for p in processes]
        finally:
            stop_workers(processes)

        with Session(ctx.engine) as session:
            cases = {
                c.id: aware(c.submitted_at)
                for c in session.exec(select(Case).where(col(Case.id).in_(case_ids))).all()
            }
            events = session.exec(
                select(CaseEvent.case_id, CaseEvent.type, CaseEvent.at).where(
                    col(CaseEvent.case_id).in_(case_ids),
                    col(CaseEvent.type).in_(["decided", "citizen_notified"]),
                )
            ).all()
    latency: dict[str, list[float]] = {"decided": [], "citizen_notified": []}
    for case_id, kind, at in events:
        latency[kind].append((aware(at) - cases[case_id]).total_seconds())

    load = os.getloadavg()
    print(f"\nTime to decision: {SERVICE}, {total} cases at {args.rate:g}/s, {machine()}")
    print(
        f"database: {url.rsplit('@', 1)[-1]}; {args.workers} workers x concurrency "
        f"{args.concurrency}; submit rate achieved {total / submit_span:.2f}/s; "
        f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"
    )
    print()
    print(f"{'submit to':<28} | {'p50':>7} | {'p95':>7} | {'max':>7}")
    print(f"{'-' * 28}-+-{'-' * 7}-+-{'-' * 7}-+-{'-' * 7}")
    for kind, label in (
        ("decided", "decision stored (case page)"),
        ("citizen_notified", "certificate in the mailbox"),
    ):
        values = latency[kind]
        print(
            f"{label:<28} | {percentile(values, 0.5):>6.2f}s | {percentile(values, 0.95):>6.2f}s"
            f" | {max(values):>6.2f}s"
        )
    print(f"\npeak resident memory per worker: {', '.join(f'{r:.0f} MiB' for r in rss)}")
    print(f"goals: p50 < {GOAL_P50_S:g} s, p95 < {GOAL_P95_S:g} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
