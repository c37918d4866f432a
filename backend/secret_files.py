"""Files a process makes once into the data directory (keys, secrets, tokens), race-free."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's content; made by ``make`` and written whole (0600) if it does not exist yet.

    Processes starting together on a new data directory all read the first file linked into
    place, never one another is still writing: an ``O_EXCL`` create followed by a write let a
    second worker read an empty key file and stop (CI, the chaos run).
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            os.write(fd, make())
            os.close(fd)
            os.chmod(draft, 0o600)
            # link() fails when the file exists: the first writer wins, the others read it.
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_bytes()
