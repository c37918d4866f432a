"""Dev reload: a valid edit replaces the catalogue; an invalid one keeps the last valid one."""

from __future__ import annotations

import os
import time
from pathlib import Path

from backend.definitions.catalogue import Catalogue, load_catalogue
from backend.definitions.reload import DefinitionReloader
from backend.definitions.scaffold import scaffold_service
from prefill.configuration import build_default_registry


def _touch_later(file: Path, text: str) -> None:
    """Write and move the mtime forward, so coarse file-system clocks still see a change."""
    before = file.stat().st_mtime_ns
    file.write_text(text, encoding="utf-8")
    os.utime(file, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_valid_edits_apply_and_invalid_edits_keep_the_last_valid_version(tmp_path: Path) -> None:
    connectors = build_default_registry()
    scaffold_service(tmp_path, "probe")
    applied: list[Catalogue] = [load_catalogue(tmp_path, connectors)]
    reloader = DefinitionReloader(tmp_path, connectors, applied.append, interval_s=0.05)
    file = tmp_path / "probe" / "service.yaml"
    original = file.read_text(encoding="utf-8")

    assert reloader.check() is False  # nothing changed
    _touch_later(file, original.replace('version: "0.1.0"', 'version: "0.2.0"'))
    assert reloader.check() is True
    assert applied[-1].get("probe").version == "0.2.0"
    assert reloader.status.as_json()["status"] == "ok"

    broken = original.replace('version: "0.1.0"', 'version: "0.3.0"').replace(
        "fields.exemplare >= 1", "fields.exemplar >= 1"
    )
    _touch_later(file, broken)
    assert reloader.check() is False
    assert len(applied) == 2  # the 0.2.0 catalogue stays in use
    status = reloader.status.as_json()
    assert status["status"] == "invalid, last valid version in use"
    problems = status["problems"]
    assert isinstance(problems, list)
    assert any("rules[0].condition: unknown field 'exemplar'" in p for p in problems)

    _touch_later(file, original.replace('version: "0.1.0"', 'version: "0.4.0"'))
    assert reloader.check() is True
    assert applied[-1].get("probe").version == "0.4.0"
    assert reloader.status.problems == []
    assert reloader.status.reloads == 2


def test_the_polling_thread_picks_up_template_edits(tmp_path: Path) -> None:
    connectors = build_default_registry()
    scaffold_service(tmp_path, "probe")
    applied: list[Catalogue] = []
    reloader = DefinitionReloader(tmp_path, connectors, applied.append, interval_s=0.05)
    reloader.start()
    try:
        template = tmp_path / "probe" / "templates" / "bescheid.html"
        _touch_later(template, template.read_text(encoding="utf-8") + "\n{{ fields.gibtsnicht }}")
        deadline = time.monotonic() + 10
        while not reloader.status.problems and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("unknown field 'gibtsnicht'" in p for p in reloader.status.problems)
        assert applied == []
    finally:
        reloader.stop()
