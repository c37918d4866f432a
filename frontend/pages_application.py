"""Filling in an application: confirm held data, answer one topic per page, upload documents,
check the answers, submit; save and return later, or delete the draft."""

from __future__ import annotations

import re
from datetime import date
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.admission import Busy, admission_of, retry_after_headers
from backend.cases import applications as apps
from backend.cases import draft_version, drafts, submission, uploads
from backend.cases.catalogue_views import service_view
from backend.cases.drafts import HELD_STEP, DraftState, topic_step
from backend.cases.outlook import register_rejections
from backend.cases.views import FieldView
from backend.definitions.constraints import local_today, read_date
from backend.errors import InvalidInput, NotFound
from backend.login.sessions import ActiveSession
from frontend import flow
from frontend.rendering import language, render
from frontend.web import MAX_FORM_BYTES, checked_form, ctx_of, files, require, texts

Problem = dict[str, str]
"""One error for the error summary: field, German and English text, and the link target."""


def _from_details(
    details: list[dict[str, str]],
    href_of: dict[str, str],
    fields: dict[str, FieldView] | None = None,
) -> list[Problem]:
    """Errors the backend found, linked to the input they are about and naming its field."""
    problems = []
    for d in details:
        field_id = d.get("field", "")
        german = d.get("message_de") or d.get("message", "")
        english = d.get("message", "")
        field = (fields or {}).get(field_id)
        if field is not None and field.label.de not in german:
            german = f"{field.label.de}: {german}"
        if field is not None and field.label.en not in english:
            english = f"{field.label.en}: {english}"
        problems.append(
            {
                "field": field_id,
                "href": href_of.get(field_id, "#main"),
                "message_de": german,
                "message": english,
            }
        )
    return problems


def parse_date(raw: str) -> str | None:
    """A typed date as ISO text (21.11.2026, 1.3.25, 21/11/2026, 2026-11-21), None if it is
    none; intake reads it the same way (backend/definitions/constraints.py) and says why."""
    text = raw.strip()
    if not text:
        return ""
    typed = read_date(text, local_today())
    return typed.isoformat() if isinstance(typed, date) else None


def normalise_amount(raw: str, lang: str = "de") -> str:
    """Amounts as each language writes them. German: decimal comma and dots between thousands
    (3.499,00 is 3499.00); without a comma, dots in groups of three are thousands too (3.499).
    English: commas between thousands, a decimal point (3,499.00)."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "").strip("€").strip()
    if lang == "en":
        return text.replace(",", "")
    if "," in text:
        return text.replace(".", "").replace(",", ".")
    if re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        return text.replace(".", "")
    return text


def _input_id(field: FieldView) -> str:
    return f"in-{field.id}"


def build() -> APIRouter:
    router = APIRouter()

    async def state_of(request: Request, active: ActiveSession, application_id: str) -> DraftState:
        return await run_in_threadpool(
            drafts.draft_state, ctx_of(request), active.identity, application_id
        )

    def to_case(state: DraftState) -> Response | None:
        if state.case_id is not None:
            return RedirectResponse(f"/cases/{state.case_id}", status_code=303)
        return None

    def common(state: DraftState) -> dict[str, Any]:
        return {
            "state": state,
            "service": state.definition,
            "app": state.application,
            "place_id": state.application.tenant,
            "steps": flow.steps(state),
            "task_list": flow.uses_task_list(state),
        }

    # --- hub -------------------------------------------------------------------------------

    @router.get("/applications/{application_id}")
    async def application_hub(request: Request, application_id: str) -> Response:
        active = await require(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        if not flow.uses_task_list(state):
            return RedirectResponse(flow.resume_url(state), status_code=303)
        return render(request, "tasklist.html", all_done=flow.all_completed(state), **common(state))

    # --- held data -------------------------------------------------------------------------

    def held_page(
        request: Request, state: DraftState, status_code: int = 200, **extra: Any
    ) -> Response:
        return render(
            request,
            "held.html",
            status_code=status_code,
            groups=flow.held_groups(state),
            not_retrieved=flow.not_retrieved(state),
            back=request.query_params.get("return") == "check",
            **common(state),
            **extra,
        )

    @router.get("/applications/{application_id}/held")
    async def held_get(request: Request, application_id: str) -> Response:
        active = await require(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        if not flow.has_held_step(state):
            return RedirectResponse(flow.resume_url(state), status_code=303)
        return held_page(request, state)

    @router.post("/applications/{application_id}/held")
    async def held_post(request: Request, application_id: str) -> Response:
        active = await require(request)
        form = texts(await checked_form(request, active))
        ctx = ctx_of(request)
        action = form.get("action", "continue")
        if action == "retry":
            await apps.refresh_prefill(ctx, active.identity, application_id)
            return RedirectResponse(f"/applications/{application_id}/held", status_code=303)
        disputes: dict[str, str | None] = {
            key.removeprefix("dispute__"): (value or None)
            for key, value in form.items()
            if key.startswith("dispute__")
        }
        try:
            await run_in_threadpool(
                lambda: apps.update_application(
                    ctx, active.identity, application_id, disputes=disputes
                )
            )
        except InvalidInput as exc:
            state = await state_of(request, active, application_id)
            hrefs = {f.id: f"#dispute-{f.id}" for f in state.application.fields}
            return held_page(
                request,
                state,
                422,
                errors=_from_details(
                    exc.details, hrefs, {f.id: f for f in state.application.fields}
                ),
                submitted=form,
            )
        await run_in_threadpool(
            drafts.mark_step_done, ctx, active.identity, application_id, HELD_STEP
        )
        return _after_step(await state_of(request, active, application_id), HELD_STEP, form)

    def _after_step(state: DraftState, step: str, form: dict[str, str]) -> Response:
        if form.get("action") == "save":
            target = f"/applications/{state.application.id}/saved"
        elif form.get("return") == "check":
            target = flow.check_url(state)
        else:
            target = flow.url_after(state, step)
        return RedirectResponse(target, status_code=303)

    # --- question pages --------------------------------------------------------------------

    def topic_html(
        request: Request,
        state: DraftState,
        page: flow.TopicPage,
        status_code: int = 200,
        **extra: Any,
    ) -> Response:
        by_field = {u.field: u for u in state.uploads}
        return render(
            request,
            "topic.html",
            status_code=status_code,
            page=page,
            uploads=by_field,
            multipart=any(f.type == "file" for f in page.fields),
            back_to_check=request.query_params.get("return") == "check",
            **common(state),
            **extra,
        )

    def page_or_404(state: DraftState, topic: str) -> flow.TopicPage:
        page = flow.topic_page(state, topic)
        if page is None:
            raise NotFound("Diese Seite gibt es nicht. (Not found.)")
        return page

    @router.get("/applications/{application_id}/topics/{topic}")
    async def topic_get(request: Request, application_id: str, topic: str) -> Response:
        active = await require(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        return topic_html(request, state, page_or_404(state, topic))

    @router.post("/applications/{application_id}/topics/{topic}")
    async def topic_post(request: Request, application_id: str, topic: str) -> Response:
        active = await require(request)
        ctx = ctx_of(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        page = page_or_404(state, topic)
        file_fields = [f for f in page.fields if f.type == "file"]
        max_bytes = MAX_FORM_BYTES + sum(f.max_size_bytes or 0 for f in file_fields)
        if file_fields:
            # Issue 21 item 5: a file over the field's limit (a 30 MB scan) is named in the
            # form's error summary, with the page's other answers kept. So the form is read up
            # to the upload body limit, which knopfdruck/limits.py enforces while it streams
            # in; each file is read only to its own limit + 1 byte below.
            max_bytes = max(max_bytes, ctx.settings.body_limit_upload_bytes)
        raw_form = await checked_form(
            request, active, max_bytes=max_bytes, max_files=len(file_fields)
        )
        form, chosen = texts(raw_form), files(raw_form)
        hrefs = {f.id: f"#{_input_id(f)}" for f in page.fields}
        by_id = {f.id: f for f in page.fields}
        problems: list[Problem] = []

        removing = form.get("remove")
        if removing:
            await run_in_threadpool(
                uploads.remove_upload, ctx, active.identity, application_id, removing
            )
            return RedirectResponse(
                f"/applications/{application_id}/topics/{topic}#in-{removing}",
                status_code=303,
            )

        for field in file_fields:
            upload = chosen.get(f"file__{field.id}")
            if upload is None:
                continue
            limit = field.max_size_bytes or 0
            content = await upload.read(limit + 1)
            try:
                await run_in_threadpool(
                    partial(
                        uploads.attach_upload,
                        ctx,
                        active.identity,
                        application_id,
                        field.id,
                        filename=upload.filename,
                        content=content,
                    )
                )
            except InvalidInput as exc:
                problems += _from_details(exc.details, hrefs, by_id)

        answers: dict[str, Any] = {}
        for field in page.fields:
            if field.type == "file":
                continue
            raw = form.get(f"answer__{field.id}", "")
            # A typed date goes to intake as typed: it reads 1.3.25 as the field's bounds
            # suggest and names an impossible day ("Den 31. Februar gibt es nicht.").
            if field.type == "decimal":
                raw = normalise_amount(raw, language(request))
            answers[field.id] = raw
        try:
            await run_in_threadpool(
                lambda: apps.update_application(
                    ctx, active.identity, application_id, answers=answers
                )
            )
        except InvalidInput as exc:
            problems += _from_details(exc.details, hrefs, by_id)

        action = form.get("action", "continue")
        if not problems and action == "continue":
            missing = await run_in_threadpool(
                drafts.missing_on_page,
                ctx,
                active.identity,
                application_id,
                {f.id for f in page.fields},
            )
            problems += _from_details(missing, hrefs)
        if problems:
            fresh = await state_of(request, active, application_id)
            return topic_html(
                request,
                fresh,
                page_or_404(fresh, topic),
                422,
                errors=_in_page_order(problems, [f.id for f in page.fields]),
                submitted=form,
            )
        if action == "upload":
            return RedirectResponse(
                f"/applications/{application_id}/topics/{topic}", status_code=303
            )
        if action == "continue":
            await run_in_threadpool(
                drafts.mark_step_done, ctx, active.identity, application_id, topic_step(topic)
            )
        fresh = await state_of(request, active, application_id)
        return _after_step(fresh, topic_step(topic), form)

    @router.get("/applications/{application_id}/files/{upload_id}")
    async def uploaded_file(request: Request, application_id: str, upload_id: str) -> Response:
        active = await require(request)
        stored = await run_in_threadpool(
            uploads.open_upload, ctx_of(request), active.identity, upload_id
        )
        return Response(
            stored.content,
            media_type=stored.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{stored.filename}"',
                "Cache-Control": "private, no-store",
            },
        )

    # --- check and submit ------------------------------------------------------------------

    def check_html(
        request: Request, state: DraftState, status_code: int = 200, **extra: Any
    ) -> Response:
        return render(
            request,
            "check.html",
            status_code=status_code,
            groups=flow.held_groups(state),
            pages=flow.topic_pages(state),
            # The same reference date the case will get at submit (applications.py).
            outlook=register_rejections(state.definition, state.application, local_today()),
            uploads={u.field: u for u in state.uploads},
            shown=draft_version.encode_prints(state.prints),
            fee_view=service_view(state.definition, ctx_of(request).connectors),
            **common(state),
            **extra,
        )

    @router.get("/applications/{application_id}/check")
    async def check_get(request: Request, application_id: str) -> Response:
        active = await require(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        return check_html(request, state)

    @router.post("/applications/{application_id}/submit")
    async def submit(request: Request, application_id: str) -> Response:
        active = await require(request)
        form = texts(await checked_form(request, active))
        ctx = ctx_of(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        topic_of = {f.id: f.topic for f in state.application.fields}
        hrefs = {
            fid: f"/applications/{application_id}/topics/{topic}?return=check#in-{fid}"
            for fid, topic in topic_of.items()
        } | {"remark": "#in-remark"}
        # What the page showed; the remark is typed on this page, so it is what is posted.
        shown = draft_version.decode_prints(form.get("shown", ""))
        remark = form.get("remark", "")
        expected = None
        if shown is not None:
            shown[draft_version.REMARK_KEY] = draft_version.remark_fingerprint(remark)
            expected = draft_version.version_of(shown)
        try:
            if remark.strip() != (state.application.remark or ""):
                await run_in_threadpool(
                    lambda: apps.update_application(
                        ctx, active.identity, application_id, remark=remark
                    )
                )
            with admission_of(request).submission():
                case = await run_in_threadpool(
                    partial(
                        submission.submit_application,
                        ctx,
                        active.identity,
                        application_id,
                        # A page without fingerprints (an old tab, a crafted post) cannot prove
                        # what it showed: it is never submitted, it shows the check page again.
                        version=expected or "unknown",
                    )
                )
        except draft_version.DraftChanged:
            fresh = await state_of(request, active, application_id)
            if (redirect := to_case(fresh)) is not None:
                return redirect
            changed = draft_version.changed_fields(
                draft_version.changed_keys(shown or {}, fresh.prints)
            )
            changed.discard(draft_version.REMARK_KEY)
            return check_html(request, fresh, 409, changed=changed, draft_changed=True)
        except Busy as exc:
            # The draft stays as it is (remark included): the citizen submits it later.
            page = render(request, "busy.html", 503, come_back_at=exc.come_back_at, **common(state))
            page.headers.update(retry_after_headers(exc))
            return page
        except InvalidInput as exc:
            fresh = await state_of(request, active, application_id)
            return check_html(
                request,
                fresh,
                422,
                errors=_from_details(
                    exc.details, hrefs, {f.id: f for f in fresh.application.fields}
                ),
                submitted=form,
            )
        return RedirectResponse(f"/cases/{case.id}/submitted", status_code=303)

    # --- save for later, delete ------------------------------------------------------------

    @router.get("/applications/{application_id}/saved")
    async def saved(request: Request, application_id: str) -> Response:
        active = await require(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        return render(request, "saved.html", resume=flow.resume_url(state), **common(state))

    @router.get("/applications/{application_id}/delete")
    async def delete_confirm(request: Request, application_id: str) -> Response:
        active = await require(request)
        state = await state_of(request, active, application_id)
        if (redirect := to_case(state)) is not None:
            return redirect
        return render(request, "delete.html", **common(state))

    @router.post("/applications/{application_id}/delete")
    async def delete(request: Request, application_id: str) -> Response:
        active = await require(request)
        await checked_form(request, active)
        await run_in_threadpool(
            drafts.discard_draft, ctx_of(request), active.identity, application_id
        )
        return RedirectResponse("/cases?deleted=1", status_code=303)

    return router


def _in_page_order(problems: list[Problem], order: list[str]) -> list[Problem]:
    """One message per field, in the order the fields stand on the page (GOV.UK)."""
    first: dict[str, Problem] = {}
    for problem in problems:
        first.setdefault(problem["field"], problem)
    rank = {field_id: index for index, field_id in enumerate(order)}
    return sorted(first.values(), key=lambda p: rank.get(p["field"], len(rank)))
