"""Prefill reads registries concurrently: starting an application costs the slowest registry,
not the sum of all of them.

Run from the repository root:

    .venv/bin/python benchmarks/prefill_latency.py [--runs 15] [--latency-ms 200]

It starts the whole platform (SQLite in a temporary folder, sandbox IdP and registries
in-process, no worker) on a loopback port, injects the latency into four registries through
``PUT /sandbox/registries/{registry}/faults`` and then, in each run, measures

- the baseline: one direct read of each of the four registries; the slowest counts, and
- ``POST /api/v1/applications`` for a service whose fields come from those four registries.

It prints the medians and the ratio start / slowest registry. The target is at most 1.3
(about 260 ms at 200 ms latency); the sum of the four reads (about 800 ms) is what reading
them one after the other would cost. Exit status 1 when the ratio misses the target.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.migrate import upgrade_database  # noqa: E402
from backend.settings import Settings  # noqa: E402
from knopfdruck.app import create_app  # noqa: E402
from sandbox.personas import persona_by_id  # noqa: E402

TARGET = 1.3
PERSONA = "katrin"
# (registry, path of its read, one attribute): four registries keyed by the tax id, so none
# has to wait for another (Geodaten would wait for the Melderegister by design).
READS = (
    ("melderegister", "/melderegister/v1/personen/abfrage", "familienname"),
    ("kfz-zulassungsregister", "/kfz-zulassungsregister/v1/halter/abfrage", "anzahl_fahrzeuge"),
    ("hochschulregister", "/hochschulregister/v1/studierende/abfrage", "immatrikuliert"),
    ("gewerberegister", "/gewerberegister/v1/inhaber/abfrage", "anzahl_betriebe"),
)
TYPES = {
    "familienname": "string",
    "anzahl_fahrzeuge": "integer",
    "immatrikuliert": "boolean",
    "anzahl_betriebe": "integer",
}
PURPOSE = {
    "X-Purpose": "Benchmark",
    "X-Legal-Basis": "Benchmark",
    "X-Service": "benchmark",
    "X-Actor": "citizen",
}


def service_yaml() -> str:
    fields = "".join(
        f"""  - id: {attribute}
    type: {TYPES[attribute]}
    label: {{ de: {attribute}, en: {attribute} }}
    required: false
    source:
      connector: {registry}
      attribute: {attribute}
      purpose: Benchmark des Registerabrufs
      legal_basis: "Benchmark"
"""
        for registry, _, attribute in READS
    )
    return f"""id: vier-register
version: "1.0.0"
valid_from: 2024-01-01
leika: "99000000000999"
title: {{ de: Vier Register, en: Four registers }}
description: {{ de: Benchmark, en: Benchmark }}
department: buergeramt
trust_level: substanziell
legal_basis: "Benchmark"
fields:
{fields}
rules:
  - id: immer
    kind: eligibility
    legal_reference: "Benchmark"
    condition: "true"
    otherwise: refer
    reason: {{ de: Benchmark, en: Benchmark }}
    reason_otherwise: {{ de: Benchmark, en: Benchmark }}
retention:
  days: 1
  legal_basis: "Benchmark"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def platform(folder: Path) -> Iterator[str]:
    services = folder / "services" / "vier-register"
    services.mkdir(parents=True)
    (services / "service.yaml").write_text(service_yaml(), encoding="utf-8")
    port = free_port()
    settings = Settings(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=folder / "data",
        services_dir=folder / "services",
        worker_in_process=False,
        sandbox=True,  # the registries under measurement are the in-process sandbox's
        _env_file=None,
    )
    upgrade_database(settings.database_url)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = settings.base_url
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the platform did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args()
    persona = persona_by_id(PERSONA)
    assert persona is not None and persona.idnr

    folder = Path(tempfile.mkdtemp(prefix="knopfdruck-bench-"))
    try:
        with platform(folder) as base, httpx.Client(timeout=30) as client:
            registries = f"{base}/sandbox/registries"
            token = client.post(f"{base}/sandbox/idp/token", data={"persona": PERSONA})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            # Warm-up: population, token keys, connections, SQLite file.
            client.post(
                f"{base}/api/v1/applications", json={"service": "vier-register"}, headers=headers
            ).raise_for_status()
            for registry, _, _ in READS:
                client.put(
                    f"{registries}/{registry}/faults", json={"latency_ms": args.latency_ms}
                ).raise_for_status()

            slowest: list[float] = []
            sums: list[float] = []
            starts: list[float] = []
            for _ in range(args.runs):
                each = []
                for _, path, attribute in READS:
                    began = time.perf_counter()
                    client.post(
                        f"{registries}{path}",
                        json={"idnr": persona.idnr, "attribute": [attribute]},
                        headers=PURPOSE,
                    ).raise_for_status()
                    each.append(time.perf_counter() - began)
                slowest.append(max(each))
                sums.append(sum(each))
                began = time.perf_counter()
                response = client.post(
                    f"{base}/api/v1/applications",
                    json={"service": "vier-register"},
                    headers=headers,
                )
                starts.append(time.perf_counter() - began)
                response.raise_for_status()
                failed = [f["id"] for f in response.json()["fields"] if f["prefill_status"] != "ok"]
                if failed:
                    raise SystemExit(f"prefill failed for {failed}: the benchmark is invalid")
            client.delete(f"{registries}/faults")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    baseline = statistics.median(slowest)
    start = statistics.median(starts)
    ratio = start / baseline
    print(f"registries: {len(READS)}, injected latency {args.latency_ms} ms, runs {args.runs}")
    print(f"baseline  slowest single registry read (median): {baseline * 1000:7.1f} ms")
    print(
        f"          four reads one after another (median): {statistics.median(sums) * 1000:7.1f} ms"
    )
    print(f"measured  POST /api/v1/applications (median):    {start * 1000:7.1f} ms")
    print(f"ratio start / slowest registry: {ratio:.2f} (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
