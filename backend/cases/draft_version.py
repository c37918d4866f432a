"""What the citizen confirmed is what is sent: a draft's version, taken from its content.

A version is a hash over one fingerprint per thing a check page shows (each value, each dispute,
each file, the remark). It needs no column: two drafts with the same content have the same
version, and any change (a second tab, an API client) changes it. The check page carries the
fingerprints it was rendered from, so a refused submit can mark exactly what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from backend.errors import Conflict

REMARK_KEY = "remark"


def fingerprint(value: Any) -> str:
    """A short digest of one shown value; the page shows the value itself, so this hides nothing."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def remark_fingerprint(remark: str | None) -> str:
    """The remark as the draft stores it: stripped, empty as none."""
    return fingerprint((remark or "").strip() or None)


def draft_fingerprints(
    values: Mapping[str, Any],
    disputes: Mapping[str, Any],
    remark: str | None,
    files: Iterable[tuple[str, str]],
) -> dict[str, str]:
    """One fingerprint per value (`field`), dispute (`dispute:field`), file (`file:field`) and
    the remark; `files` are (field, sha256) pairs."""
    prints = {fid: fingerprint(value) for fid, value in values.items()}
    prints |= {f"dispute:{fid}": fingerprint(text) for fid, text in disputes.items() if text}
    prints |= {f"file:{fid}": sha[:16] for fid, sha in files}
    prints[REMARK_KEY] = remark_fingerprint(remark)
    return prints


def version_of(prints: Mapping[str, str]) -> str:
    """The draft's version: one digest over all fingerprints, independent of their order."""
    canonical = ";".join(f"{key}={prints[key]}" for key in sorted(prints))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def encode_prints(prints: Mapping[str, str]) -> str:
    """Fingerprints as one hidden form value."""
    return ";".join(f"{key}={prints[key]}" for key in sorted(prints))


def decode_prints(text: str) -> dict[str, str] | None:
    """The fingerprints a check page carried; None when the value is missing or malformed."""
    if not text or len(text) > 20_000:
        return None
    prints: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            return None
        prints[key] = value
    return prints


def changed_keys(shown: Mapping[str, str], current: Mapping[str, str]) -> set[str]:
    """What differs between the page the citizen saw and the draft now (added, removed, changed)."""
    return {key for key in set(shown) | set(current) if shown.get(key) != current.get(key)}


def changed_fields(keys: Iterable[str]) -> set[str]:
    """The field ids behind changed fingerprints (a changed dispute or file marks its field)."""
    return {key.split(":", 1)[-1] for key in keys}


class DraftChanged(Conflict):
    """The draft changed after the page (or the API client) last saw it: nothing is submitted."""

    code = "draft_changed"

    def __init__(self, current_version: str) -> None:
        super().__init__(
            "Ihre Angaben wurden geändert, nachdem Sie sie geprüft haben. Bitte prüfen Sie sie "
            "erneut. (Your answers changed after you checked them. Check them again.)"
        )
        self.current_version = current_version
