"""What `knopfdruck worker` changes of the settings (issue 22): no connection ping, and render
processes one per core unless the operator chose a number."""

from __future__ import annotations

import os

import pytest

from backend.settings import Settings
from knopfdruck.cli import worker_settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_a_worker_renders_on_every_core_by_default_and_skips_the_ping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KNOPFDRUCK_RENDER_PROCESSES", raising=False)
    monkeypatch.delenv("KNOPFDRUCK_DB_PRE_PING", raising=False)
    base = _settings()
    assert base.render_processes is None and base.db_pre_ping  # serve: threads, ping
    worker = worker_settings(base)
    assert worker.render_processes == (os.cpu_count() or 1)
    assert worker.db_pre_ping is False


def test_the_operators_choice_of_render_processes_stands() -> None:
    assert worker_settings(_settings(render_processes=0)).render_processes == 0
    assert worker_settings(_settings(render_processes=3)).render_processes == 3
