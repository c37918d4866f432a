"""Bulk actions where safe (issue 17, item 6): assign, set a follow-up, QA-confirm the machine.

Each case is still its own audited action with the shared reason, run through the same service
function a single action uses (department check, permissions, four eyes); one refused case does
not stop the others, and the result names every case with what happened to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session

from backend.console import decisions, followup, work
from backend.console.qa import is_qa_sample
from backend.context import AppContext
from backend.department.identity import ClerkIdentity, Permission
from backend.department.reasons import required_reason
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.records.models import Case

MAX_BULK = 50
"""One worklist page is 25; two pages at most, so a slip cannot touch the whole backlog."""
ACTIONS = ("assign_me", "assign", "follow_up", "qa_confirm")
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)
    """References of the cases the action was carried out on."""
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(reference or id, message) of the cases it was not."""


def _reference(ctx: AppContext, clerk: ClerkIdentity, case_id: str) -> str:
    """The reference of an own-department case; another department's stays an opaque id."""
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        return (
            case.reference if case is not None and case.department == clerk.department else case_id
        )


def _qa_confirm(ctx: AppContext, clerk: ClerkIdentity, case_id: str, reason: str) -> None:
    """Confirm a QA-sampled case's machine proposal: the clerk decides as the machine did."""
    with Session(ctx.engine) as session:
        case = session.get(Case, case_id)
        if case is None or case.department != clerk.department:
            raise NotFound("Diesen Vorgang gibt es nicht. (Case not found.)")
        if not is_qa_sample(case):
            raise Conflict("Kein Vorgang der QS-Stichprobe. (Not a QA-sampled case.)")
        machine = decisions.machine_outcome(session, case)
    if machine not in ("approved", "rejected"):
        raise Conflict("Die Maschine hat hier nichts vorgeschlagen. (No machine proposal.)")
    decisions.decide_case(ctx, clerk, case_id, machine, reason)


def run_bulk(
    ctx: AppContext,
    clerk: ClerkIdentity,
    action: str | None,
    case_ids: list[str],
    fields: dict[str, str],
) -> BulkResult:
    """Apply one action to each selected case of the clerk's department."""
    clerk.require(Permission.WORK_CASES)
    if action not in ACTIONS:
        raise InvalidInput(
            "Bitte wählen Sie eine Aktion. (Choose an action.)",
            details=[{"field": "bulk_action", "message": f"one of {', '.join(ACTIONS)}"}],
        )
    ids = list(dict.fromkeys(i for i in case_ids if _ID.match(i)))
    if not ids:
        raise InvalidInput(
            "Bitte wählen Sie mindestens einen Vorgang. (Select at least one case.)",
            details=[{"field": "case", "message": "at least one"}],
        )
    if len(ids) > MAX_BULK:
        raise InvalidInput(
            f"Höchstens {MAX_BULK} Vorgänge auf einmal. (At most {MAX_BULK} cases at once.)",
            details=[{"field": "case", "message": f"at most {MAX_BULK}"}],
        )
    reason = fields.get("reason")
    if action == "assign":
        clerk.require(Permission.ASSIGN_OTHERS)
        reason = required_reason(reason)
    if action == "qa_confirm":
        reason = required_reason(reason)
    result = BulkResult()
    for case_id in ids:
        try:
            if action == "assign_me":
                work.assign(ctx, clerk, case_id, None, reason)
            elif action == "assign":
                work.assign(ctx, clerk, case_id, fields.get("assignee") or None, reason)
            elif action == "follow_up":
                followup.set_follow_up(
                    ctx, clerk, case_id, fields.get("due_on"), fields.get("note") or reason
                )
            else:
                _qa_confirm(ctx, clerk, case_id, reason or "")
        except InvalidInput:
            raise  # the shared date, note, reason or colleague is wrong for every case
        except (Conflict, Forbidden, NotFound) as exc:
            result.refused.append((_reference(ctx, clerk, case_id), exc.message))
            continue
        result.done.append(_reference(ctx, clerk, case_id))
    return result
