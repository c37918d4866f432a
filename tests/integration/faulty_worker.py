"""A real `knopfdruck worker` with one injected fault, for the incident tests (issue 14, item 1).

``KNOPFDRUCK_TEST_FAULT`` names the stage that fails (decide, payment, writeback, documents,
notify, handover) for as long as the file ``KNOPFDRUCK_TEST_FAULT_FILE`` exists: the test
removes it to "fix the cause" and then lets a clerk retry. The fault is an exception raised
where the real code would fail (a template error, a register client bug, a lone surrogate),
with such a surrogate in its message, so the incident's stored reason is checked too.

Run as ``python -m tests.integration.faulty_worker`` with the usual KNOPFDRUCK_* variables.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import backend.cases.completion as completion
import backend.cases.payment_wait as payment_wait
import backend.cases.processing as processing
import backend.cases.writeback as writeback
from backend.context import build_context
from backend.domain.case_state import CaseStatus
from backend.runtime import serve_until_signalled
from backend.settings import get_settings

FAULT_MESSAGE = "injected fault in {stage}: value 'Bello\ud800'"


class InjectedFault(RuntimeError):
    """What the broken part raises while the fault file exists."""


def _active() -> bool:
    return Path(os.environ["KNOPFDRUCK_TEST_FAULT_FILE"]).exists()


def _failing(stage: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _active():
            raise InjectedFault(FAULT_MESSAGE.format(stage=stage))
        return original(*args, **kwargs)

    return wrapper


def _failing_notification(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(ctx: Any, session: Any, case: Any, target: Any, **kwargs: Any) -> Any:
        if target == CaseStatus.NOTIFIED and _active():
            raise InjectedFault(FAULT_MESSAGE.format(stage="notify"))
        return original(ctx, session, case, target, **kwargs)

    return wrapper


def inject(stage: str) -> None:
    """Replace the one function the stage's step calls with a failing one."""
    if stage == "decide":
        processing.decide_case = _failing(stage, processing.decide_case)  # type: ignore[assignment]
    elif stage == "payment":
        payment_wait.open_at_provider = _failing(stage, payment_wait.open_at_provider)  # type: ignore[assignment]
    elif stage == "writeback":
        writeback.perform_writeback = _failing(stage, writeback.perform_writeback)  # type: ignore[assignment]
    elif stage == "documents":
        completion.issue_documents = _failing(stage, completion.issue_documents)  # type: ignore[assignment]
    elif stage == "notify":
        # The announcement is the shared completion's last stage (backend/cases/completion.py).
        completion.move_case = _failing_notification(completion.move_case)  # type: ignore[assignment]
    elif stage == "handover":
        processing.deliver_submission = _failing(stage, processing.deliver_submission)  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown stage {stage!r}")


def main() -> None:
    inject(os.environ["KNOPFDRUCK_TEST_FAULT"])
    serve_until_signalled(build_context(get_settings()), concurrency=2)


if __name__ == "__main__":
    main()
