"""What tenants cost a process at start-up and at each dev reload: load time per activation.

Run from the repository root:

    .venv/bin/python benchmarks/tenant_load.py [--rounds 5] [--tenants 100]

Every process checks every tenant's overlays at start (issue 13): the effective definition of
each template x tenant with the template's checks (backend/tenants/loader.py). The baseline is
one tenant (Bergheim, three activations); the measured side ``--tenants`` copies of it under
their own ids and ARS. Printed: milliseconds per activation of each (median of the rounds),
their ratio (many / one; 1.0 means linear growth, above 1 means each tenant gets dearer as
tenants are added), the total for the many, the cores and the load average. The rounds are
interleaved so the shared machine's noise falls on both alike. Real tenants differ in values,
not in work, so copies measure the same cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.context import connectors_for  # noqa: E402
from backend.definitions.loader import LoadedDefinition, load_tree  # noqa: E402
from backend.settings import Settings  # noqa: E402
from backend.tenants.loader import load_tenants  # noqa: E402
from prefill.connectors.registry import ConnectorRegistry  # noqa: E402


def _tenants(folder: Path, count: int) -> Path:
    """``count`` copies of Bergheim, each with its own id and ARS."""
    for index in range(count):
        target = folder / f"t{index:03d}"
        shutil.copytree(ROOT / "tenants" / "bergheim", target)
        file = target / "tenant.yaml"
        text = file.read_text(encoding="utf-8")
        text = text.replace("id: bergheim", f"id: t{index:03d}")
        text = text.replace('ars: "053620008008"', f'ars: "0536200{index:05d}"')
        file.write_text(text, encoding="utf-8")
    return folder


def _per_activation_ms(
    folder: Path, templates: list[LoadedDefinition], connectors: ConnectorRegistry
) -> tuple[float, float]:
    """Milliseconds per activation and the total seconds of one load."""
    start = time.perf_counter()
    tenancy, problems = load_tenants(folder, templates, connectors)
    took = time.perf_counter() - start
    if problems:
        raise SystemExit("\n".join(problems))
    activations = sum(len(services) for services in tenancy.activations.values())
    return took * 1000 / activations, took


def main() -> int:
    """Measure one and many tenants in one run; print medians, ratio, cores and load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tenants", type=int, default=100)
    args = parser.parse_args()
    connectors = connectors_for(Settings(_env_file=None))
    templates, problems = load_tree(ROOT / "services", connectors)
    if problems:
        raise SystemExit("\n".join(problems))
    with tempfile.TemporaryDirectory() as tmp:
        one = _tenants(Path(tmp) / "one", 1)
        many = _tenants(Path(tmp) / "many", args.tenants)
        _per_activation_ms(one, templates, connectors)  # warm-up: imports, caches
        single, multi, totals = [], [], []
        for _ in range(args.rounds):
            single.append(_per_activation_ms(one, templates, connectors)[0])
            per, total = _per_activation_ms(many, templates, connectors)
            multi.append(per)
            totals.append(total)
    base, measured = statistics.median(single), statistics.median(multi)
    load = os.getloadavg()
    print(f"1 tenant:            {base:.1f} ms per activation (median of {args.rounds})")
    print(f"{args.tenants} tenants:        {measured:.1f} ms per activation")
    print(f"{args.tenants} tenants total:  {statistics.median(totals):.2f} s per load")
    print(f"cores={os.cpu_count()} load={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}")
    print(f"ratio={measured / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
