"""Notices per second of a worker: layout in its own threads, against a pool of render processes.

Run from the repository root:

    .venv/bin/python benchmarks/render_pool.py [--rounds 5] [--notices 24] [--threads 4]

Both sides render the same Meldebescheinigung (Erika's certificate, the unit tests' context)
from ``--threads`` threads, as a worker with that concurrency does: the baseline lays each
notice out in the rendering thread (``render_processes: 0``, today's default), the measured
side in a pool of one render process per core (``backend/documents/pool.py``). The rounds are
interleaved so the shared machine's noise falls on both alike. Printed: notices/s of each
(median of the rounds), their ratio (pool / threads; above 1 means faster), the cores and the
load average. Both sides must give identical bytes, or the run fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.documents import NoticeRenderer  # noqa: E402
from backend.documents.pool import RenderPool  # noqa: E402
from backend.documents.render import use_layout_pool  # noqa: E402
from tests.unit.test_render import MELDE, TEMPLATE, erika_context  # noqa: E402


def _rate(renderer: NoticeRenderer, notices: int, threads: int) -> float:
    """Notices per second, rendered from ``threads`` threads."""
    context = erika_context()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as workers:
        list(workers.map(lambda _: renderer.render(MELDE, TEMPLATE, context), range(notices)))
    return notices / (time.perf_counter() - start)


def main() -> int:
    """Measure both ways in one run and print medians, ratio, cores and load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--notices", type=int, default=24)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    renderer = NoticeRenderer(ROOT / "services")
    pool = RenderPool(cores)
    pool.start()
    try:
        use_layout_pool(None)
        in_thread = renderer.render(MELDE, TEMPLATE, erika_context())
        use_layout_pool(pool.layout)
        if renderer.render(MELDE, TEMPLATE, erika_context()) != in_thread:
            print("the two ways give different PDFs: nothing to compare", file=sys.stderr)
            return 1
        rates: dict[str, list[float]] = {"threads": [], "pool": []}
        for _ in range(args.rounds):
            use_layout_pool(None)
            rates["threads"].append(_rate(renderer, args.notices, args.threads))
            use_layout_pool(pool.layout)
            rates["pool"].append(_rate(renderer, args.notices, args.threads))
    finally:
        pool.stop()
    threads = statistics.median(rates["threads"])
    pooled = statistics.median(rates["pool"])
    print(f"rounds {args.rounds} x {args.notices} notices from {args.threads} threads")
    print(f"layout in the worker's threads   median {threads:6.2f} notices/s")
    print(f"layout in {cores} render processes   median {pooled:6.2f} notices/s")
    print(f"cores {cores}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"ratio (pool / threads) {pooled / threads:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
