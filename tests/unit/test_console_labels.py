"""Every case-log event type and referral reason the backend writes has a console label, so a
clerk never reads a code (issue 17, item 1); a new event without a label fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from backend.domain.policy import REFERRAL_TEXT
from frontend.console import labels

BACKEND = Path(__file__).resolve().parents[2] / "backend"


def _literals(node: ast.expr) -> list[str]:
    """String constants an event-type argument can take (a plain literal or `a if c else b`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def written_event_types() -> dict[str, str]:
    """Event types passed to record_event or as event_type= anywhere in the backend."""
    found: dict[str, str] = {}
    for path in BACKEND.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            values: list[str] = []
            if name == "record_event" and len(node.args) >= 3:
                values += _literals(node.args[2])
            for keyword in node.keywords:
                if keyword.arg in ("event_type", "type_"):
                    values += _literals(keyword.value)
            for value in values:
                found.setdefault(value, f"{path.relative_to(BACKEND.parent)}:{node.lineno}")
    return found


def test_the_scan_finds_event_types() -> None:
    found = written_event_types()
    assert {"submitted", "case_decided", "decision_confirmed", "decision_refused"} <= set(found)


def test_every_event_type_has_a_label() -> None:
    missing = {k: v for k, v in written_event_types().items() if k not in labels.EVENT}
    assert not missing, f"add to frontend/console/labels.py EVENT: {missing}"


def test_every_referral_reason_has_a_clerk_label() -> None:
    assert set(REFERRAL_TEXT) <= set(labels.REFERRAL)
