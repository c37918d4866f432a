"""What the engine benchmarks share: a database of their own, the platform's sandbox on a loopback
port, drafts made by the real service layer, worker processes, and the bare notice render.

Not a benchmark itself; see engine_throughput.py and time_to_decision.py.
"""

from __future__ import annotations

import asyncio
import os
import platform as host
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.auth.tokens import Identity  # noqa: E402
from backend.cases import applications as apps  # noqa: E402
from backend.cases import submission  # noqa: E402
from backend.context import AppContext, build_context  # noqa: E402
from backend.db import normalise_url  # noqa: E402
from backend.migrate import upgrade_database  # noqa: E402
from backend.settings import Settings  # noqa: E402
from knopfdruck.app import create_app  # noqa: E402
from sandbox.personas import persona_by_id  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/knopfdruck_bench"
SERVICE = "meldebescheinigung"
"""The shipped service: every value held, one certificate rendered per case."""


def machine() -> str:
    """The machine the numbers were measured on, for the table's header."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {host.python_version()}, {host.system()}"


def reset_database(url: str) -> str:
    """Empty the benchmark's own database (never the tests'), and migrate it."""
    parsed = make_url(normalise_url(url))
    if parsed.drivername.startswith("sqlite"):
        path = Path(str(parsed.database))
        path.unlink(missing_ok=True)
    else:
        admin = create_engine(
            parsed.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    upgrade_database(url)
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stack:
    """The web process (sandbox IdP and registries, no worker) and a context for the bench."""

    settings: Settings
    ctx: AppContext
    workdir: Path


@contextmanager
def stack(database_url: str) -> Iterator[Stack]:
    """Serve the platform without a worker on a loopback port; workers are started separately."""
    workdir = Path(tempfile.mkdtemp(prefix="knopfdruck-bench-"))
    services = workdir / "services"
    for folder in [*(ROOT / "services").iterdir(), *(ROOT / "tests/fixtures/services").iterdir()]:
        if folder.is_dir():
            shutil.copytree(folder, services / folder.name)
    port = free_port()
    settings = Settings(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=workdir / "data",
        database_url=database_url,
        services_dir=services,
        worker_in_process=False,
        sandbox=True,  # personas and registries for the benchmark's citizens
        _env_file=None,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{settings.base_url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the platform did not start")
        time.sleep(0.05)
    ctx = build_context(settings)
    try:
        yield Stack(settings, ctx, workdir)
    finally:
        ctx.close()
        server.should_exit = True
        thread.join(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


def citizen(persona_id: str = "erika") -> Identity:
    persona = persona_by_id(persona_id)
    assert persona is not None
    return Identity(
        sub=persona.sub, name=persona.name, trust_level=persona.trust_level, idnr=persona.idnr
    )


def prepare_drafts(
    ctx: AppContext, service: str, count: int, answers: dict[str, Any] | None = None
) -> list[str]:
    """Prefilled (over HTTP) and answered drafts, ready to submit."""
    who = citizen()

    async def start_all() -> list[str]:
        async with httpx.AsyncClient(timeout=10) as client:
            original, ctx.http = ctx.http, client
            try:
                return [(await apps.start_application(ctx, who, service)).id for _ in range(count)]
            finally:
                ctx.http = original

    ids = asyncio.run(start_all())
    if answers:
        for application_id in ids:
            apps.update_application(ctx, who, application_id, answers=answers)
    return ids


def submit(ctx: AppContext, application_id: str) -> str:
    """What POST /applications/{id}/submit does: case and job in one transaction."""
    return submission.submit_application(ctx, citizen(), application_id).id


def process_env(settings: Settings, render_processes: int = 0) -> dict[str, str]:
    """The environment a worker (or a bare render process) needs to find the bench's platform."""
    return {
        "KNOPFDRUCK_RENDER_PROCESSES": str(render_processes),
        **os.environ,
        "KNOPFDRUCK_DATABASE_URL": settings.database_url,
        "KNOPFDRUCK_DATA_DIR": str(settings.data_dir),
        "KNOPFDRUCK_SERVICES_DIR": str(settings.services_dir),
        "KNOPFDRUCK_BASE_URL": settings.base_url,
        "KNOPFDRUCK_SANDBOX": "true",  # the platform's identity provider is its sandbox
        "KNOPFDRUCK_QA_SAMPLING": "false",  # every run decides the same cases by machine
        "KNOPFDRUCK_WORKER_IN_PROCESS": "false",
    }


def start_workers(
    settings: Settings, count: int, concurrency: int, log_dir: Path, render_processes: int = 0
) -> list[subprocess.Popen[bytes]]:
    env = process_env(settings, render_processes)
    workers = []
    for index in range(count):
        with (log_dir / f"worker-{index}.log").open("wb") as log:
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "knopfdruck.cli",
                        "worker",
                        "--concurrency",
                        str(concurrency),
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return workers


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def bare_render_seconds(ctx: AppContext, case_id: str, runs: int) -> list[float]:
    """Render the case's notice as the worker does (signed QR included), without the database
    writes: the physical floor of automated processing. The first render warms up."""
    from sqlmodel import Session

    from backend.columns import utcnow
    from backend.documents.render import local_date
    from backend.notices import issue
    from backend.notices.claims import NoticeClaims, content_sha256
    from backend.notices.content import printed_content, template_context
    from backend.notices.issue import verification_url
    from backend.notices.signing import signer_for
    from backend.records.models import Case

    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
    definition = ctx.catalogue.get(case.service)
    folder = ctx.catalogue.folder(case.service)
    [doc] = [d for d in definition.documents if case.outcome in d.on]
    signer = signer_for(ctx.settings.data_dir)
    timings = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        issued_on = local_date(utcnow())
        content = printed_content(ctx, case, definition, doc, issued_on, None)
        claims = NoticeClaims(
            reference=case.reference,
            service=definition.id,
            kind=doc.kind,
            outcome=case.outcome or "",
            issued_on=issued_on,
            content_sha256=content_sha256(content),
        )
        token = signer.sign(claims)
        context = template_context(ctx, case, definition, doc, issued_on, None, automated=True)
        link = verification_url(ctx, token)
        context["qr_data_url"] = issue.qr_data_url(link)  # type: ignore[attr-defined]
        context["verification_link"] = link
        context["verification_url"] = verification_url(ctx)
        ctx.renderer.render(folder, doc.template, context)
        timings.append(time.perf_counter() - started)
    return timings[1:]


def bare_render_all_cores(settings: Settings, case_id: str, runs: int) -> float:
    """Renders/s of the bare render in one single-threaded process per core, all at once: the
    floor the engine is measured against (issue 22's two-core ratio)."""
    cores = os.cpu_count() or 1
    env = process_env(settings)
    children = [
        subprocess.Popen(
            [sys.executable, str(Path(__file__)), "bare-render", case_id, str(runs)],
            env=env,
            stdout=subprocess.PIPE,
        )
        for _ in range(cores)
    ]
    rate = 0.0
    for child in children:
        out, _ = child.communicate(timeout=600)
        if child.returncode != 0:
            raise RuntimeError("a bare render process failed")
        timings = [float(t) for t in out.split()]
        rate += 1 / statistics.median(timings)
    return rate


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes (and their waited-for children) have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the command name.
        total += sum(int(f) for f in fields[11:15])
    return total / tick


def process_tree(root: int) -> list[int]:
    """A process and all its descendants (a worker's render processes), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (same host as the benchmark)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile, so p95 of 300 values is a value that was measured."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def _bare_render_main(case_id: str, runs: int) -> None:
    """A bare render process: the settings come from the environment, like a worker's."""
    ctx = build_context(Settings())
    try:
        for seconds in bare_render_seconds(ctx, case_id, runs):
            print(f"{seconds:.6f}")
    finally:
        ctx.close()


if __name__ == "__main__" and sys.argv[1:2] == ["bare-render"]:
    _bare_render_main(sys.argv[2], int(sys.argv[3]))
