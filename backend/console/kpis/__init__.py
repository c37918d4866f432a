"""Key figures a department answers for: volume, automation, speed, referrals, backlog, QA.

The computations are pure functions (unit-tested without a database, ``figures``);
``department_kpis`` and ``daily_trend`` (``dashboard``) read the few columns they need with one
query per figure (``queries``), each served by an index (see docs/console.md, "Dashboard,
impact analysis, assisted applications"); ``export`` writes the figures as CSV.

Definitions (where the issue is silent):

- *Decided automatically*: the engine's decide step made the decision (a ``decided`` event by
  ``system``) and no person changed or confirmed it: a clerk's decision (a referred case, a QA
  sample confirmed, an overturn after review or objection), a clerk's re-run of the automation
  and a clerk taking over an incident (``HUMAN_EVENTS``) make it a person's decision, timed
  until its notice. A case counts once, however often the engine decided it. A case counts
  in the window in which its decision was issued
  (``cases.decided_at``, the notice); a decision still waiting for its fee counts once issued.
- *Submit → decision*: for automated cases until the engine decided (so the citizen's time to
  pay a fee does not count against the department); for manual cases until the decision was
  issued.
- *Backlog*: cases on the department's desk: referred, in review or under objection. Cases
  waiting for the citizen are shown separately; their clock is the citizen's.
- *SLA*: one figure for the whole department (``DEFAULT_SLA_DAYS``, calendar days from
  submission, adjustable per request) so services compare on one scale; each case's own due
  day from its service's ``target_days``, paused while the citizen answers, is on the worklist
  and the case file (``backend/cases/deadlines.py``). Independently of both, a case
  open for more than three months is flagged: from then on the citizen may sue for a decision
  (Untätigkeitsklage, § 75 Satz 2 VwGO).
"""

from __future__ import annotations

from backend.console.kpis.dashboard import (
    daily_trend,
    dashboard,
    department_dashboard,
    department_figures,
    department_kpis,
    department_trend,
)
from backend.console.kpis.export import (
    figures_csv,
)
from backend.console.kpis.figures import (
    AGE_BUCKETS,
    COURT_DAYS,
    DEFAULT_SLA_DAYS,
    DEFAULT_WINDOW_DAYS,
    Backlog,
    DepartmentKpis,
    Durations,
    PeriodStarts,
    QaFigures,
    ServiceKpis,
    TrendDay,
    _Tally,
    age_bound,
    age_bucket,
    age_in_days,
    age_marks,
    backlog_of,
    combine,
    per_day,
    period_starts,
    quantile,
    rate,
    referral_codes,
    summarise,
    trend_days,
)
from backend.console.kpis.queries import (
    Decided,
    Decisions,
    decisions_since,
)

__all__ = [
    "AGE_BUCKETS",
    "COURT_DAYS",
    "DEFAULT_SLA_DAYS",
    "DEFAULT_WINDOW_DAYS",
    "Backlog",
    "Decided",
    "Decisions",
    "DepartmentKpis",
    "Durations",
    "PeriodStarts",
    "QaFigures",
    "ServiceKpis",
    "TrendDay",
    "_Tally",
    "age_bound",
    "age_bucket",
    "age_in_days",
    "age_marks",
    "backlog_of",
    "combine",
    "daily_trend",
    "dashboard",
    "decisions_since",
    "department_dashboard",
    "department_figures",
    "department_kpis",
    "department_trend",
    "figures_csv",
    "per_day",
    "period_starts",
    "quantile",
    "rate",
    "referral_codes",
    "summarise",
    "trend_days",
]
