"""The steps of an application in the portal: confirm held data, one page per topic, check.

Pure functions of a draft's state, so the order of pages is decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backend.cases.drafts import HELD_STEP, DraftState, topic_step
from backend.cases.views import FieldView, Text
from backend.definitions.answers import group_problems
from backend.definitions.models import DEFAULT_TOPIC

TaskStatus = Literal["completed", "in_progress", "not_started"]


@dataclass(frozen=True)
class TopicPage:
    """One question page: the fields of a topic that no registry answered."""

    id: str
    title: Text | None
    """None for the page of questions without a topic ("Ihre Angaben")."""
    description: Text | None
    fields: list[FieldView]


@dataclass(frozen=True)
class Step:
    id: str
    url: str
    title: Text | None
    status: TaskStatus


def held_fields(state: DraftState) -> list[FieldView]:
    return [f for f in state.application.fields if f.origin == "registry"]


def has_held_step(state: DraftState) -> bool:
    """Shown whenever the service reads registries, even if they all failed: the citizen
    learns on that page why they have to type the values themselves."""
    return any(f.source is not None for f in state.definition.fields)


def topic_pages(state: DraftState) -> list[TopicPage]:
    to_enter = [
        f
        for f in state.application.fields
        # A choice among held records with no record to choose from has no question to ask,
        # nor has an optional value a register answered with "none" (FieldView.asked).
        if f.origin == "citizen" and f.asked and not (f.options_from and not f.options)
    ]
    pages: list[TopicPage] = []
    for topic in state.definition.topics:
        fields = [f for f in to_enter if f.topic == topic.id]
        if fields:
            pages.append(
                TopicPage(
                    id=topic.id,
                    title=Text(de=topic.title.de, en=topic.title.en),
                    description=Text(de=topic.description.de, en=topic.description.en)
                    if topic.description
                    else None,
                    fields=fields,
                )
            )
    rest = [f for f in to_enter if f.topic == DEFAULT_TOPIC]
    if rest:
        pages.append(TopicPage(id=DEFAULT_TOPIC, title=None, description=None, fields=rest))
    return pages


def topic_page(state: DraftState, topic_id: str) -> TopicPage | None:
    return next((p for p in topic_pages(state) if p.id == topic_id), None)


def uses_task_list(state: DraftState) -> bool:
    """A task list helps only when there are several topics to come back to (GOV.UK)."""
    return len(topic_pages(state)) >= 2


def _page_status(state: DraftState, page: TopicPage) -> TaskStatus:
    answered = [f for f in page.fields if f.value not in (None, "")]
    missing = [f for f in page.fields if f.required and f.value in (None, "")]
    # A page whose one_of groups are all empty is not done, whatever was marked (issue 21).
    topic = next((t for t in state.definition.topics if t.id == page.id), None)
    values = {f.id: f.value for f in state.application.fields}
    unmet = group_problems(state.definition, topic, values) if topic else []
    if topic_step(page.id) in state.steps_done and not missing and not unmet:
        return "completed"
    return "in_progress" if answered or topic_step(page.id) in state.steps_done else "not_started"


def steps(state: DraftState) -> list[Step]:
    base = f"/applications/{state.application.id}"
    result: list[Step] = []
    if has_held_step(state):
        result.append(
            Step(
                HELD_STEP,
                f"{base}/held",
                None,
                "completed" if HELD_STEP in state.steps_done else "not_started",
            )
        )
    for page in topic_pages(state):
        result.append(
            Step(
                topic_step(page.id),
                f"{base}/topics/{page.id}",
                page.title,
                _page_status(state, page),
            )
        )
    return result


def check_url(state: DraftState) -> str:
    return f"/applications/{state.application.id}/check"


def resume_url(state: DraftState) -> str:
    """Where a returning citizen continues: the task list, else the first unfinished step."""
    if uses_task_list(state):
        return f"/applications/{state.application.id}"
    for step in steps(state):
        if step.status != "completed":
            return step.url
    return check_url(state)


def url_after(state: DraftState, step_id: str) -> str:
    """The next page after finishing a step: the next unfinished step in order, else the check."""
    if uses_task_list(state):
        return f"/applications/{state.application.id}"
    ids = [s.id for s in steps(state)]
    later = steps(state)[ids.index(step_id) + 1 :] if step_id in ids else []
    for step in later:
        if step.status != "completed":
            return step.url
    return check_url(state)


def all_completed(state: DraftState) -> bool:
    return all(step.status == "completed" for step in steps(state))


@dataclass(frozen=True)
class HeldGroup:
    """Held values from one registry read, shown under one source line."""

    registry_title: str
    as_of: object
    fields: list[FieldView]


def held_groups(state: DraftState) -> list[HeldGroup]:
    groups: dict[tuple[str, object], list[FieldView]] = {}
    for field in held_fields(state):
        source = field.source
        key = (source.registry_title, source.as_of.date()) if source else ("", None)
        groups.setdefault(key, []).append(field)
    return [HeldGroup(title, as_of, fields) for (title, as_of), fields in groups.items()]


def not_retrieved(state: DraftState) -> list[FieldView]:
    """Fields a registry should have filled but could not (failed) or had nothing for (empty)."""
    sourced = {f.id for f in state.definition.fields if f.source is not None}
    return [
        f
        for f in state.application.fields
        if f.id in sourced
        and f.origin == "citizen"
        and f.prefill_status in ("failed", "empty")
        # Several held records to choose from: a question, not a missing value.
        and not (f.options_from and f.options)
    ]
