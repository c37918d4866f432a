"""The shape of the case file a clerk sees: one plain row type per section (values, rule
trace, documents, messages, tasks, audit trail, registry accesses) and the file itself."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from backend.cases.views import Text


class RereadRow(BaseModel):
    """The register's answer when a clerk asked it again (backend/console/reread.py)."""

    at: datetime
    by: str
    status: str
    """ok · empty (register holds nothing) · failed (unreachable, or withheld: see blocked)"""
    blocked: bool = False
    same: bool = False
    """ok only: the register's value equals what the citizen had typed."""


class ValueRow(BaseModel):
    field: str
    label: Text
    value: Any
    display: Text
    origin: str
    """registry · citizen · clerk (a clerk deciding by hand stood behind a typed value)"""
    registry_title: str | None = None
    record_id: str | None = None
    as_of: datetime | None = None
    correction: str | None = None
    """The citizen's statement that the registry value is wrong (shown next to it)."""
    registry_failed: bool = False
    """The registry did not answer; the citizen typed the value."""
    registry_blocked: bool = False
    """The register withheld the value under an information block (§ 51 BMG); not an outage."""
    confirmed_by: str | None = None
    confirmed_on: date | None = None
    evidence: str | None = None
    """For origin clerk: who stood behind the value, when, and on what (their reason)."""
    statement: Any = None
    """What the citizen had typed before a re-read of the register delivered the value."""
    statement_display: Text | None = None
    reread: RereadRow | None = None
    """The latest re-read of the register for this field: status, blocked, at, by, same."""


class ReasonRow(BaseModel):
    rule_id: str
    legal_reference: str
    effect: str
    text: Text
    stated: bool = False
    detail: str | None = None
    """Why the rule could not be evaluated (rule errors only), for the clerk."""
    """Whether the citizen reads it (notice, portal): it carried the outcome (stated_reasons)."""


class Trace(BaseModel):
    outcome: str | None
    proposed_outcome: str | None
    machine_outcome: str | None
    referral_reasons: list[tuple[str, Text]]
    reasons: list[ReasonRow]
    inputs: dict[str, Any]
    amounts: dict[str, str]
    categories: dict[str, str]
    rule_version: str
    reference_date: str | None


class DocumentRow(BaseModel):
    id: str
    title: str
    kind: str
    size: int
    sha256: str
    created_at: datetime


class MessageRow(BaseModel):
    at: datetime
    subject: Text
    body: Text
    read: bool


class EventRow(BaseModel):
    seq: int
    at: datetime
    type: str
    actor: str
    actor_name: str | None = None
    """The clerk's name for `clerk:<sub>` actors, when the console has seen that clerk."""
    actor_roles: list[str] = []
    reason: str | None
    payload: dict[str, Any]


class AccessRow(BaseModel):
    at: datetime
    registry: str
    registry_title: str = ""
    attributes: list[str]
    purpose: str
    legal_basis: str
    actor: str
    actor_name: str | None = None
    actor_roles: list[str] = []
    outcome: str


class TaskRow(BaseModel):
    id: str
    kind: str
    status: str
    statement: str | None
    legal_basis: str
    created_at: datetime
    due_on: Any = None


class PendingRow(BaseModel):
    id: str
    action: str
    outcome: str
    reason: str
    proposed_by: str
    proposed_by_name: str
    proposed_at: datetime
    machine_outcome: str | None


class ChainStatus(BaseModel):
    ok: bool
    events: int
    broken_at: int | None
    problem: str | None


class Allowed(BaseModel):
    """Which actions the page offers; the service functions enforce the same rules."""

    decide: bool
    ask: bool
    rerun: bool
    reread: bool
    """The register can be asked again for values the citizen typed in its place."""
    amend: bool
    """The clerk may confirm a typed value with evidence, or correct a single value."""
    objection: bool
    cancel: bool
    confirm_pending: bool
    assign_others: bool


class RemedyRow(BaseModel):
    """The remedy of the service's regime, so the clerk handles an objection under its own law."""

    kind: str
    name: str
    legal_basis: str
    reexamination_basis: str
    lodged_with: str | None


class CaseFile(BaseModel):
    id: str
    reference: str
    service: str
    service_title: Text
    status: str
    waiting_for: str | None
    submitted_at: datetime
    decided_at: datetime | None
    reference_date: str
    remark: str | None
    qa_sample: bool
    four_eyes: bool
    service_paused: bool
    values: list[ValueRow]
    trace: Trace | None
    documents: list[DocumentRow]
    payment: dict[str, Any] | None
    messages: list[MessageRow]
    tasks: list[TaskRow]
    events: list[EventRow]
    chain: ChainStatus
    accesses: list[AccessRow]
    assignee: str | None
    assignee_name: str | None
    pending: PendingRow | None
    allowed: Allowed
    remedy: RemedyRow | None = None
