"""Tenants in a running platform: checked at start-up like definitions, reloaded in dev mode.

Issue 13, item 1: tenants are configuration loaded at start-up and hot-reloaded with
`serve --dev`, so adding a municipality needs no code change and no restart there; an invalid
tenant refuses the start (production) or keeps the last valid state (dev), never half-applies.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.errors import DefinitionError
from backend.settings import Settings
from tests.conftest import ROOT


def _copy(tmp_path: Path, services: list[str], tenants: list[str]) -> tuple[Path, Path]:
    """A services and a tenants folder side by side, as tenants_dir's default expects."""
    for slug in services:
        shutil.copytree(ROOT / "services" / slug, tmp_path / "services" / slug)
    for tenant in tenants:
        shutil.copytree(ROOT / "tenants" / tenant, tmp_path / "tenants" / tenant)
    return tmp_path / "services", tmp_path / "tenants"


def _rewrite(file: Path, old: str, new: str, step: int) -> None:
    """Edit and move the mtime forward, so coarse file-system clocks still see a change."""
    text = file.read_text(encoding="utf-8")
    assert old in text
    stamp = file.stat().st_mtime_ns
    file.write_text(text.replace(old, new), encoding="utf-8")
    os.utime(file, ns=(stamp + step * 10**9, stamp + step * 10**9))


def _settings(tmp_path: Path, services: Path, *, dev: bool) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        services_dir=services,
        dev_reload=dev,
        worker_in_process=False,
        _env_file=None,
    )


def test_an_invalid_overlay_refuses_the_start_with_its_file_and_line(tmp_path: Path) -> None:
    from knopfdruck.app import create_app

    services, tenants = _copy(tmp_path, ["anwohnerparkausweis"], ["bergheim"])
    shutil.rmtree(tenants / "bergheim" / "tests")
    for overlay in ("hundesteuer-anmeldung", "maengelmelder", "meldebescheinigung"):
        (tenants / "bergheim" / "services" / f"{overlay}.yaml").unlink()
    overlay = tenants / "bergheim" / "services" / "anwohnerparkausweis.yaml"
    _rewrite(overlay, "department: strassenverkehrsamt", "department: bauamt", 1)
    with pytest.raises(DefinitionError) as refused:
        create_app(_settings(tmp_path, services, dev=False))
    assert refused.value.problems == [
        f"{overlay.as_posix()}:4 department: unknown department 'bauamt' (tenant 'bergheim' "
        "has: strassenverkehrsamt, steueramt, ordnungsamt, buergeramt)"
    ]


def test_dev_mode_reloads_tenants_and_keeps_the_last_valid_state(tmp_path: Path) -> None:
    from knopfdruck.app import create_app

    services, tenants = _copy(tmp_path, ["anwohnerparkausweis"], ["bergheim", "koeln"])
    for tenant in ("bergheim", "koeln"):
        for overlay in ("hundesteuer-anmeldung", "maengelmelder", "meldebescheinigung"):
            (tenants / tenant / "services" / f"{overlay}.yaml").unlink()
    app = create_app(_settings(tmp_path, services, dev=True))
    ctx, reloader = app.state.ctx, app.state.definition_reloader
    client = TestClient(app)

    def fee(tenant: str) -> float:
        definition = ctx.tenancy.activations[tenant]["anwohnerparkausweis"].versions[0].definition
        return float(definition.parameters["jahresgebuehr"][-1].value)

    try:
        assert (fee("koeln"), fee("bergheim")) == (100.0, 60.0)
        overlay = tenants / "bergheim" / "services" / "anwohnerparkausweis.yaml"
        _rewrite(overlay, "value: 60.0", "value: 75.0", 1)
        assert reloader.check() is True
        assert (fee("koeln"), fee("bergheim")) == (100.0, 75.0)

        # A broken overlay is shown on /healthz; every tenant keeps its last valid activation.
        _rewrite(overlay, "value: 75.0", 'value: "75"', 2)
        assert reloader.check() is False
        body = client.get("/healthz").json()
        assert body["definitions"]["status"] == "invalid, last valid version in use"
        line = (
            overlay.read_text(encoding="utf-8")
            .splitlines()
            .index(next(t for t in overlay.read_text(encoding="utf-8").splitlines() if '"75"' in t))
        )
        assert body["definitions"]["problems"] == [
            f"{overlay.as_posix()}:{line + 1} parameters.jahresgebuehr[1].value: value is a "
            "string, but earlier values are a number"
        ]
        assert (fee("koeln"), fee("bergheim")) == (100.0, 75.0)

        # A new municipality: a folder, no restart.
        _rewrite(overlay, 'value: "75"', "value: 75.0", 3)
        shutil.copytree(tenants / "bergheim", tenants / "huerth")
        new = tenants / "huerth" / "tenant.yaml"
        _rewrite(new, "id: bergheim", "id: huerth", 4)
        _rewrite(new, 'ars: "053620008008"', 'ars: "053620024024"', 5)
        _rewrite(new, "name: Stadt Bergheim", "name: Stadt Hürth", 6)
        assert reloader.check() is True
        assert sorted(ctx.tenancy.tenants) == ["bergheim", "huerth", "koeln"]
        assert ctx.tenancy.tenants["huerth"].name == "Stadt Hürth"
        assert client.get("/healthz").json()["definitions"]["problems"] == []
    finally:
        ctx.close()
