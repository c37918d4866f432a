"""Roles gate console actions; filters and the QA alert behave as documented. No I/O."""

from __future__ import annotations

import pytest

from backend.auth.tokens import Identity
from backend.console.qa import OverturnRate
from backend.console.worklist import WorklistFilter, _safe_cell
from backend.department.identity import ClerkIdentity, Permission
from backend.errors import Forbidden, InvalidInput


def _clerk(*roles: str) -> ClerkIdentity:
    return ClerkIdentity("sub-1", "Sabine", "buergeramt", roles)


def test_role_matrix() -> None:
    clerk, boss, admin = _clerk("clerk"), _clerk("clerk", "supervisor"), _clerk("admin")
    assert clerk.can(Permission.WORK_CASES) and not clerk.can(Permission.SWITCH_AUTOMATION)
    assert not clerk.can(Permission.ASSIGN_OTHERS) and not clerk.can(Permission.CANCEL)
    # A supervisor may do everything in the department; operating the platform is not that.
    assert all(boss.can(p) for p in Permission if p != Permission.OPERATE)
    assert not boss.can(Permission.OPERATE)
    # An administrator switches and assigns but decides no case.
    assert admin.can(Permission.SWITCH_AUTOMATION) and admin.can(Permission.ASSIGN_OTHERS)
    assert not admin.can(Permission.WORK_CASES) and not admin.can(Permission.SECOND_APPROVAL)
    with pytest.raises(Forbidden):
        admin.require(Permission.WORK_CASES)
    # A designer drafts services and decides no case; approving is a supervisor's.
    designer = _clerk("designer")
    assert designer.can(Permission.DESIGN) and not designer.can(Permission.PUBLISH_DEFINITIONS)
    assert not designer.can(Permission.WORK_CASES)
    # The data centre's operator sees counts across tenants and nothing of a department.
    operator = _clerk("operator")
    assert operator.can(Permission.OPERATE)
    assert not any(operator.can(p) for p in Permission if p != Permission.OPERATE)


def test_citizens_and_roleless_accounts_are_refused() -> None:
    citizen = Identity(sub="c", name="Erika", trust_level="hoch")
    with pytest.raises(Forbidden):
        ClerkIdentity.from_identity(citizen)
    roleless = Identity(sub="x", name="X", trust_level="hoch", department="a", roles=("guest",))
    with pytest.raises(Forbidden):
        ClerkIdentity.from_identity(roleless)
    ok = Identity(
        sub="s", name="S", trust_level="substanziell", department="a", roles=("clerk", "x")
    )
    assert ClerkIdentity.from_identity(ok).roles == ("clerk",)


def test_worklist_filter_parsing() -> None:
    flt = WorklistFilter.parse({"service": "x", "reason": "objection", "age": "7", "page": "2"})
    assert (flt.service, flt.reason, flt.age, flt.page, flt.sort) == (
        "x",
        "objection",
        "7",
        2,
        "deadline",
    )
    with pytest.raises(InvalidInput) as err:
        WorklistFilter.parse({"reason": "nope", "age": "2", "sort": "x", "page": "-1"})
    assert {d["field"] for d in err.value.details} == {"reason", "age", "sort", "page"}


def test_csv_cells_cannot_become_formulas() -> None:
    assert _safe_cell("=HYPERLINK()") == "'=HYPERLINK()"
    assert _safe_cell("KD-2026-ABCD-EF23") == "KD-2026-ABCD-EF23"


def test_overturn_alert_needs_enough_reviews_and_a_high_rate() -> None:
    assert OverturnRate(0, 0).rate is None and not OverturnRate(0, 0).alert
    assert not OverturnRate(4, 4).alert  # too few to say anything
    assert OverturnRate(10, 1).alert  # 10 % > 5 %
    assert not OverturnRate(20, 1).alert  # exactly 5 % is not above the threshold
