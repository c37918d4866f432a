"""Scale: cases decided per second with 1, 2 and 3 worker processes against one PostgreSQL.

Run from the repository root (the database is dropped and created: never the tests' one):

    .venv/bin/python benchmarks/scale.py \
        [--database-url postgresql://postgres@127.0.0.1:5432/knopfdruck_scale] \
        [--cases 90] [--workers 1,2,3] [--concurrency 2]

It starts the compose topology as processes (migrate once, sandbox, one
`knopfdruck serve --no-worker`; tests/integration/topologykit.py). For each worker count it
submits ``--cases`` Hundeanmeldungen over the API while no worker runs (decision, notice,
register write-back), then starts that many `knopfdruck worker` processes and measures the
rate at which cases are decided, from the first decision to the last (worker start-up does not
count). It prints cases/s per worker count and the speed-up over one worker, with the load
average, since on a shared machine other processes take their share of the cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, col, func, select  # noqa: E402

from backend.db import build_engine  # noqa: E402
from backend.domain.case_state import WITH_DECISION  # noqa: E402
from backend.records.models import Case  # noqa: E402
from tests.integration.topologykit import (  # noqa: E402
    Citizen,
    Topology,
    fresh_database,
    production_pools,
)

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/knopfdruck_scale"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--cases", type=int, default=90)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--concurrency", type=int, default=2, help="per worker")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the scale benchmark is defined on PostgreSQL (issue 8)")
    counts = [int(n) for n in args.workers.split(",")]

    from enginekit import machine

    fresh_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="knopfdruck-scale-"))
    topology = Topology(
        args.database_url,
        workdir,
        worker_concurrency=args.concurrency,
        extra_env=production_pools(),
    )
    citizen = Citizen(topology)
    engine = build_engine(args.database_url)
    settled = [str(s) for s in WITH_DECISION]
    rows: list[tuple[int, float, float, float]] = []
    try:
        topology.start(webs=1, workers=0)
        for workers in counts:
            with ThreadPoolExecutor(8) as pool:
                case_ids = [c for _, c in pool.map(citizen.apply, [0] * args.cases)]
            for index in range(workers):
                topology.start_worker(index)
            deadline = time.monotonic() + 60 + 5 * args.cases
            load_before = os.getloadavg()[0]
            while True:
                with Session(engine) as session:
                    done, first, last = session.exec(
                        select(func.count(), func.min(Case.decided_at), func.max(Case.decided_at))
                        .where(col(Case.id).in_(case_ids))
                        .where(col(Case.status).in_(settled))
                    ).one()
                if done == args.cases:
                    break
                for name in topology.dead("worker-"):
                    raise RuntimeError(topology.log_tail(name))
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {done} of {args.cases} decided")
                time.sleep(0.2)
            load = (load_before + os.getloadavg()[0]) / 2
            assert first is not None and last is not None
            # n decisions span n - 1 intervals between the first and the last.
            rate = (args.cases - 1) / max(1e-6, (last - first).total_seconds())
            rows.append((workers, rate, rate / rows[0][1] if rows else 1.0, load))
            print(f"{workers} worker(s): {rate:.2f} cases/s (load average {load:.1f})", flush=True)
            for index in range(workers):
                process = topology.processes[f"worker-{index}"]
                process.terminate()
                process.wait(timeout=60)
    finally:
        citizen.close()
        topology.stop()
        engine.dispose()

    print()
    print(f"machine: {machine()}")
    print(f"{args.cases} Hundeanmeldungen per row, concurrency {args.concurrency} per worker")
    print()
    print("| workers | cases/s | speed-up over 1 | load average |")
    print("|---|---|---|---|")
    for workers, rate, speedup, load in rows:
        print(f"| {workers} | {rate:.2f} | {speedup:.2f} | {load:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
