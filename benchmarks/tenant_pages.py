"""Catalogue, service and case page p95 on a platform with 2 tenants and with 100 (issue 13).

Run from the repository root:

    .venv/bin/python benchmarks/tenant_pages.py [--tenants 100] [--requests 300]

Two ``knopfdruck serve`` processes run side by side (SQLite in temporary folders, the sandbox
IdP and registries, the in-process worker): the baseline with the two tenants Stefan's case
needs (Köln, the home tenant, and Bergheim), the other with those plus copies of Bergheim under
their own ids and ARS up to ``--tenants``, each with all four local services active. In each
server Stefan (a Bergheim resident) logs in through the OIDC code flow and applies for a
Meldebescheinigung, which routing sends to Bergheim (a second one stays a draft). Then the
three pages are requested one after the other, alternating between the servers so the shared
machine's noise falls on both alike: Bergheim's catalogue ``/bergheim/``, its parking permit
page, and Stefan's case page.

Printed per page: p50 and p95 of each server, the ratio of the p95s (many / baseline; the
issue's goal is <= 1.2), the machine's cores and load average. Latency is measured by the client
from sending the request to the last byte, on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from portal_render import User, _free_port, _log_in, _percentile, _start_server  # noqa: E402
from tenant_load import _tenants as copies  # noqa: E402

GOAL_RATIO = 1.2
PAGES = ("catalogue", "service", "case")


def _tenants(folder: Path, count: int) -> Path:
    """Köln (home) and Bergheim as shipped, then copies of Bergheim up to ``count`` tenants."""
    copies(folder, max(0, count - 2))
    for name in ("koeln", "bergheim"):
        shutil.copytree(ROOT / "tenants" / name, folder / name)
    return folder


def _path(user: User, page: str) -> str:
    return {
        "catalogue": "/bergheim/",
        "service": "/bergheim/services/anwohnerparkausweis",
        "case": f"/cases/{user.case}",
    }[page]


async def _run(
    args: argparse.Namespace, bases: dict[str, str]
) -> dict[str, dict[str, list[float]]]:
    users = {name: await _log_in(base, "stefan") for name, base in bases.items()}
    for name, user in users.items():
        case = (await user.client.get(f"/cases/{user.case}")).text
        if "Stadt Bergheim" not in case:
            raise SystemExit(f"{name}: Stefan's case is not Bergheim's; routing is broken")
    timings: dict[str, dict[str, list[float]]] = {n: {p: [] for p in PAGES} for n in bases}
    for page in PAGES:  # warm up: templates compile, catalogues are made once
        for user in users.values():
            await user.client.get(_path(user, page))
    for _ in range(args.requests):
        for page in PAGES:
            for name, user in users.items():
                start = time.perf_counter()
                response = await user.client.get(_path(user, page))
                took = (time.perf_counter() - start) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{name} {page}: HTTP {response.status_code}")
                timings[name][page].append(took)
    for user in users.values():
        await user.client.aclose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    servers = []
    with tempfile.TemporaryDirectory() as tmp:
        bases: dict[str, str] = {}
        try:
            for name, count in (("2 tenants", 2), (f"{args.tenants} tenants", args.tenants)):
                folder = _tenants(Path(tmp) / f"tenants-{count}", count)
                os.environ["KNOPFDRUCK_TENANTS_DIR"] = str(folder)
                port = _free_port()
                started = time.perf_counter()
                servers.append(_start_server(port, Path(tmp) / f"data-{count}"))
                print(f"{name}: started in {time.perf_counter() - started:.1f} s")
                bases[name] = f"http://127.0.0.1:{port}"
            timings = asyncio.run(_run(args, bases))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    base, many = list(timings)
    print(f"cores={os.cpu_count()} load={os.getloadavg()[0]:.2f} requests/page={args.requests}")
    print(
        f"{'page':<11}{base + ' p50':>17}{'p95':>8}{many + ' p50':>19}{'p95':>8}"
        f"{'p95 ratio':>11}  goal <= {GOAL_RATIO}"
    )
    for page in PAGES:
        one, lots = timings[base][page], timings[many][page]
        ratio = _percentile(lots, 0.95) / _percentile(one, 0.95)
        print(
            f"{page:<11}{_percentile(one, 0.5):>17.1f}{_percentile(one, 0.95):>8.1f}"
            f"{_percentile(lots, 0.5):>19.1f}{_percentile(lots, 0.95):>8.1f}{ratio:>11.2f}"
            f"  {'met' if ratio <= GOAL_RATIO else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
