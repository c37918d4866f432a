"""Intake: submissions accepted per second at 50 concurrent clients, as a ratio to a bare
FastAPI endpoint doing one insert into the same PostgreSQL database, measured in the same run.

Run from the repository root (the database is dropped and created: never the tests' one):

    .venv/bin/python benchmarks/intake.py \
        [--database-url postgresql://postgres@127.0.0.1:5432/knopfdruck_intake] \
        [--submissions 600] [--clients 50] [--runs 3]

It starts the compose topology as processes (migrate once, sandbox, one
`knopfdruck serve --no-worker`; no worker, so processing does not compete for the CPU; see
tests/integration/topologykit.py) and, next to it, a bare FastAPI app in its own uvicorn
process whose one endpoint inserts one row into the same database. Per run it prepares
``--submissions`` drafts over the API (prefilled from the sandbox register, answered), then
lets ``--clients`` concurrent clients submit them all (`POST /api/v1/applications/{id}/submit`,
bearer token verified, admission control on: case row, first audit event and the DBOS workflow
row in one transaction), and the same number of requests to the bare endpoint. Runs alternate
so both see the same background load. It prints both rates per run, their medians and the
ratio of the medians (goal: >= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.integration.topologykit import (  # noqa: E402
    DOG,
    SERVICE,
    Citizen,
    Topology,
    fresh_database,
    production_pools,
)
from tests.livesrv import free_port  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/knopfdruck_intake"
GOAL = 0.5


def bare_app(database_url: str):  # type: ignore[no-untyped-def]
    """One endpoint, one insert, committed: the floor of any intake on this database."""
    import uuid

    from fastapi import FastAPI
    from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, func

    from backend.db import build_engine

    engine = build_engine(database_url)
    table = Table(
        "bench_bare_intake",
        MetaData(),
        Column("id", String(32), primary_key=True),
        Column("payload", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now()),
    )
    table.metadata.create_all(engine)
    app = FastAPI()

    @app.post("/bare")
    def bare(body: dict[str, str]) -> dict[str, str]:
        row_id = uuid.uuid4().hex
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=row_id, payload=body))
        return {"id": row_id}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_bare(port: int, database_url: str) -> None:
    import uvicorn

    uvicorn.run(bare_app(database_url), host="127.0.0.1", port=port, log_level="warning")


async def hammer(requests: list[tuple[str, str, dict[str, str], object]], clients: int) -> float:
    """Send every request with ``clients`` at once; returns the accepted ones per second."""
    queue: asyncio.Queue[tuple[str, str, dict[str, str], object]] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    failures: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one_client() -> None:
            while not queue.empty():
                method, url, headers, body = queue.get_nowait()
                r = await client.request(method, url, headers=headers, json=body)
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return len(requests) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--submissions", type=int, default=600)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve-bare", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.database_url)
        return 0
    if not args.database_url.startswith("postgresql"):
        parser.error("the intake benchmark is defined on PostgreSQL (issue 8)")

    from enginekit import machine

    fresh_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="knopfdruck-intake-"))
    topology = Topology(args.database_url, workdir, extra_env=production_pools())
    citizen = Citizen(topology)
    bare_port = free_port()
    bare: subprocess.Popen[bytes] | None = None
    rows: list[tuple[float, float]] = []
    try:
        topology.start(webs=1, workers=0)
        with (workdir / "bare.log").open("wb") as log:
            bare = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve-bare",
                    str(bare_port),
                    "--database-url",
                    args.database_url,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{bare_port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the bare endpoint did not start")
            time.sleep(0.2)
        web = topology.web_url(0)
        for run in range(1, args.runs + 1):
            # Drafts first (prefill over HTTP is not part of a submission), a few at a time.
            with ThreadPoolExecutor(8) as pool:
                drafts = list(pool.map(lambda _: _draft(citizen), range(args.submissions)))
            auth = {"Authorization": f"Bearer {citizen.token()}"}
            intake = asyncio.run(
                hammer(
                    [("POST", f"{web}/api/v1/applications/{d}/submit", auth, None) for d in drafts],
                    args.clients,
                )
            )
            floor = asyncio.run(
                hammer(
                    [
                        ("POST", f"http://127.0.0.1:{bare_port}/bare", {}, {"service": SERVICE})
                        for _ in drafts
                    ],
                    args.clients,
                )
            )
            rows.append((intake, floor))
            load = os.getloadavg()[0]
            print(
                f"run {run}: submissions {intake:.1f}/s, bare insert {floor:.1f}/s, "
                f"ratio {intake / floor:.2f} (load average {load:.1f})",
                flush=True,
            )
    finally:
        if bare is not None:
            bare.terminate()
            bare.wait(timeout=30)
        citizen.close()
        topology.stop()

    intake_median = statistics.median(r[0] for r in rows)
    floor_median = statistics.median(r[1] for r in rows)
    ratio = intake_median / floor_median
    print()
    print(f"machine: {machine()}")
    print(f"{args.submissions} submissions per run, {args.clients} concurrent clients, PostgreSQL")
    print()
    print("| run | submissions accepted/s | bare insert/s | ratio |")
    print("|---|---|---|---|")
    for index, (intake, floor) in enumerate(rows, start=1):
        print(f"| {index} | {intake:.1f} | {floor:.1f} | {intake / floor:.2f} |")
    print(f"| **median** | **{intake_median:.1f}** | **{floor_median:.1f}** | **{ratio:.2f}** |")
    print(f"\ngoal >= {GOAL}: {'met' if ratio >= GOAL else 'missed'}")
    return 0


def _draft(citizen: Citizen) -> str:
    r = citizen.call("POST", "/applications", 0, json={"service": SERVICE})
    r.raise_for_status()
    application_id: str = r.json()["id"]
    citizen.call("PATCH", f"/applications/{application_id}", 0, json={"answers": DOG})
    return application_id


if __name__ == "__main__":
    sys.exit(main())
