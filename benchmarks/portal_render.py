"""Server render time of the portal's five most used pages at 20 concurrent users, on loopback.

Run from the repository root:

    .venv/bin/python benchmarks/portal_render.py [--users 20] [--seconds 15] [--think 0.5]

It starts ``knopfdruck serve`` (one process, SQLite in a temporary folder, the sandbox IdP and
registries, the in-process worker) on a free loopback port. Every simulated citizen logs in
through the OIDC code flow, submits one Meldebescheinigung and keeps one draft open. Then,
page by page, the users request the page in a loop, each waiting a random think time
(uniform 0 .. 2 x --think seconds) between requests, as people do; ``--think 0`` measures
the saturated server instead. Latency is measured by the client from sending the request to
the last byte of the response.

The five pages, chosen as the ones every journey passes: the start page, a service page,
the held-data page and the check page of a draft, and the case page. Two baselines run in
the same way in the same run: ``/healthz`` (routing plus a database ping) and a static file.
The script prints n, p50, p95 and max per page and the ratio of each page's p95 to the
baseline's; the goal is p95 < 50 ms at 20 users. Client and server share the machine's
cores, so the numbers include the load client's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
GOAL_P95_MS = 50.0
PERSONAS = ("erika", "jonas", "sophie", "david", "mehmet", "petra", "katrin", "bernd", "lukas")
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass
class User:
    client: httpx.AsyncClient
    draft: str
    case: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _start_server(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KNOPFDRUCK_BASE_URL": f"http://127.0.0.1:{port}",
        "KNOPFDRUCK_DATA_DIR": str(data_dir),
        "KNOPFDRUCK_DATABASE_URL": "",
        "KNOPFDRUCK_SERVICES_DIR": str(ROOT / "services"),
        "KNOPFDRUCK_SANDBOX": "true",  # test personas log in to the rendered pages
    }
    command = [str(Path(sys.executable).parent / "knopfdruck"), "serve", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server did not start: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("server did not answer within 60 s")


async def _log_in(base: str, persona: str) -> User:
    """The code flow with PKCE as a browser runs it, then one case and one draft."""
    client = httpx.AsyncClient(base_url=base, timeout=60)
    to_idp = await client.get("/login", params={"next": "/cases"})
    form = await client.get(to_idp.headers["location"])
    hidden = {k: unescape(v) for k, v in _HIDDEN.findall(form.text)}
    back = await client.post(
        f"{base}/sandbox/idp/authorize", data={**hidden, "persona": persona, "action": "login"}
    )
    await client.get(back.headers["location"])
    page = (await client.get("/cases")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None, "login failed"
    token = csrf.group(1)

    async def start() -> str:
        r = await client.post("/services/meldebescheinigung/start", data={"csrf_token": token})
        return r.headers["location"].rsplit("/", 1)[-1]

    submitted = await start()
    # The check page's form carries the version of what it showed (issue 21): send it back.
    check = (await client.get(f"/applications/{submitted}/check")).text
    shown = {k: unescape(v) for k, v in _HIDDEN.findall(check)}
    r = await client.post(f"/applications/{submitted}/submit", data={**shown, "csrf_token": token})
    if "location" not in r.headers:
        raise SystemExit(f"{persona}: submit refused with HTTP {r.status_code}")
    case = r.headers["location"].split("/")[2]
    return User(client, await start(), case)


async def _measure(
    users: list[User], path_of: Callable[[User], str], seconds: float, think: float
) -> list[float]:
    """All users request one page for `seconds`; returns the latencies in milliseconds."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def loop(user: User, rng: random.Random) -> None:
        path = path_of(user)
        await asyncio.sleep(rng.uniform(0, 2 * think))  # users do not start in lockstep
        while time.monotonic() < stop:
            started = time.perf_counter()
            response = await user.client.get(path)
            await response.aread()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))

    await asyncio.gather(*(loop(u, random.Random(i)) for i, u in enumerate(users)))
    return latencies


async def _run(args: argparse.Namespace, base: str) -> None:
    users = [await _log_in(base, PERSONAS[i % len(PERSONAS)]) for i in range(args.users)]
    # Let the worker decide the cases first, so case pages show their final state.
    await asyncio.sleep(3)
    pages: list[tuple[str, Callable[[User], str]]] = [
        ("baseline: /healthz", lambda u: "/healthz"),
        ("baseline: static CSS", lambda u: "/static/portal.css"),
        ("start page /", lambda u: "/"),
        ("service page", lambda u: "/services/meldebescheinigung"),
        ("held data (draft)", lambda u: f"/applications/{u.draft}/held"),
        ("check answers (draft)", lambda u: f"/applications/{u.draft}/check"),
        ("case page", lambda u: f"/cases/{u.case}"),
    ]
    for _name, paths in pages:  # warm-up: templates compiled, connections open
        await _measure(users, paths, 1.0, 0.05)
    results: list[tuple[str, list[float]]] = []
    for name, paths in pages:
        results.append((name, await _measure(users, paths, args.seconds, args.think)))
    for user in users:
        await user.client.aclose()

    mode = f"think time uniform 0..{2 * args.think:.1f} s" if args.think else "no think time"
    print(f"\n{args.users} concurrent users, {args.seconds:.0f} s per page, {mode}, loopback")
    print(f"{'page':<26}{'n':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
          f"{'p95/healthz':>13}{'p95/static':>12}  goal p95<{GOAL_P95_MS:.0f} ms")  # fmt: skip
    base_health = _percentile(results[0][1], 0.95)
    base_static = _percentile(results[1][1], 0.95)
    for name, values in results:
        p95 = _percentile(values, 0.95)
        verdict = "" if name.startswith("baseline") else ("met" if p95 < GOAL_P95_MS else "MISSED")
        print(
            f"{name:<26}{len(values):>7}{len(values) / args.seconds:>8.0f}"
            f"{_percentile(values, 0.5):>9.1f}{p95:>9.1f}{max(values):>9.1f}"
            f"{p95 / base_health:>13.2f}{p95 / base_static:>12.2f}  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--think", type=float, default=0.5, help="mean think time in seconds")
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        server = _start_server(port, Path(tmp))
        try:
            asyncio.run(_run(args, f"http://127.0.0.1:{port}"))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
