"""The field-encryption key file made on first start: whole, once, for every process at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from backend.crypto import KEY_FILE, keys_for


def _read_keys(data_dir: str, start: multiprocessing.synchronize.Event, out: object) -> None:
    start.wait()
    out.put([k.decode() for k in keys_for("", Path(data_dir))])  # type: ignore[attr-defined]


def test_processes_starting_at_once_all_get_the_same_whole_key(tmp_path: Path) -> None:
    """Eight processes on a new data directory: none reads a half-written file (the chaos run's
    third worker once read an empty one and stopped), and all use the first key written."""
    context = multiprocessing.get_context("fork")
    start = context.Event()
    out = context.Queue()
    processes = [
        context.Process(target=_read_keys, args=(str(tmp_path), start, out)) for _ in range(8)
    ]
    for process in processes:
        process.start()
    start.set()
    results = [out.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert all(len(keys) == 1 for keys in results), results
    assert len({keys[0] for keys in results}) == 1, "every process uses the same key"
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE], "no draft file is left behind"
    assert oct((tmp_path / KEY_FILE).stat().st_mode & 0o777) == "0o600"
