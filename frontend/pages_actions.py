"""What a citizen does after submitting: read the mailbox, and in one step each ask for a human
review, object, withdraw, or answer the department's question (the engine's service layer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.cases import queries, review
from backend.context import AppContext
from backend.errors import InvalidInput, NotFound
from frontend.rendering import N_, localized_message, render
from frontend.web import checked_form, ctx_of, require, texts

Perform = Callable[[AppContext, Identity, str, str], Any]


def _review(ctx: AppContext, who: Identity, case_id: str, text: str) -> Any:
    return review.request_review(ctx, who, case_id, text or None)


def _object(ctx: AppContext, who: Identity, case_id: str, text: str) -> Any:
    return review.lodge_objection(ctx, who, case_id, text)


def _withdraw(ctx: AppContext, who: Identity, case_id: str, text: str) -> Any:
    return review.withdraw(ctx, who, case_id, text or None)


def _answer(ctx: AppContext, who: Identity, case_id: str, text: str) -> Any:
    return review.answer_question(ctx, who, case_id, text)


ACTIONS: dict[str, tuple[str, Perform, bool, str]] = {
    # name: (option in CitizenOptions, service function, statement required, label of the text)
    "review": ("request_review", _review, False, N_("Was soll geprüft werden? (freiwillig)")),
    "objection": ("object", _object, True, N_("Warum widersprechen Sie?")),
    "withdraw": (
        "withdraw",
        _withdraw,
        False,
        N_("Warum nehmen Sie den Antrag zurück? (freiwillig)"),
    ),
    "answer": ("answer_question", _answer, True, N_("Ihre Antwort")),
}


def field_error(exc: InvalidInput, field: str) -> list[dict[str, str]]:
    """The one-field error summary of a simple form, in both languages."""
    return [
        {
            "field": field,
            "href": f"#in-{field}",
            "message_de": localized_message(exc.message, "de"),
            "message": localized_message(exc.message, "en"),
        }
    ]


def build() -> APIRouter:
    router = APIRouter()

    async def mailbox_page(request: Request, status_code: int = 200, **extra: Any) -> Response:
        active = await require(request)
        ctx = ctx_of(request)

        def load() -> tuple[int, list[Any], str | None]:
            unread, messages = queries.my_mailbox(ctx, active.identity)
            return unread, messages, queries.my_notification_email(ctx, active.identity)

        unread, messages, email = await run_in_threadpool(load)
        return render(
            request,
            "mailbox.html",
            status_code=status_code,
            messages=messages,
            unread_total=unread,
            email=email,
            saved=request.query_params.get("email"),
            **extra,
        )

    @router.get("/mailbox")
    async def mailbox(request: Request) -> Response:
        return await mailbox_page(request)

    @router.post("/mailbox/email")
    async def notification_email(request: Request) -> Response:
        """Mails say only 'there is a new message' and link here (no case content, § 9 OZG's
        mailbox is the channel); the address is optional and can be removed any time."""
        active = await require(request)
        form = texts(await checked_form(request, active))
        remove = form.get("action") == "remove"
        email = None if remove else form.get("email", "")
        try:
            await run_in_threadpool(
                queries.change_notification_email, ctx_of(request), active.identity, email
            )
        except InvalidInput as exc:
            errors = field_error(exc, "email")
            return await mailbox_page(request, 422, errors=errors, submitted=email)
        # The address itself never goes into the URL.
        done = "removed" if remove else "saved"
        return RedirectResponse(f"/mailbox?email={done}", status_code=303)

    @router.get("/mailbox/{message_id}")
    async def message(request: Request, message_id: str) -> Response:
        active = await require(request)
        ctx = ctx_of(request)
        shown = await run_in_threadpool(queries.open_message, ctx, active.identity, message_id)
        # Reading it changed the count the header shows.
        request.state.unread = await run_in_threadpool(
            queries.my_unread_count, ctx, active.identity
        )
        return render(request, "message.html", message=shown)

    async def action_page(
        request: Request, case_id: str, action: str, status_code: int = 200, **extra: Any
    ) -> Response:
        if action not in ACTIONS:
            raise NotFound("Diese Seite gibt es nicht. (Not found.)")
        active = await require(request)
        ctx = ctx_of(request)
        detail = await run_in_threadpool(queries.my_case, ctx, active.identity, case_id)
        actions = await run_in_threadpool(review.case_actions, ctx, active.identity, case_id)
        option, _perform, required, label = ACTIONS[action]
        return render(
            request,
            "action.html",
            status_code=status_code,
            action=action,
            available=getattr(actions.options, option),
            options=actions.options,
            remedy=actions.remedy,
            required=required,
            label=label,
            case=detail.case,
            question=detail.question,
            service=ctx.definition(detail.case.service, tenant=detail.case.tenant),
            **extra,
        )

    @router.get("/cases/{case_id}/{action}")
    async def action_form(request: Request, case_id: str, action: str) -> Response:
        return await action_page(request, case_id, action)

    @router.post("/cases/{case_id}/{action}")
    async def action_post(request: Request, case_id: str, action: str) -> Response:
        if action not in ACTIONS:
            raise NotFound("Diese Seite gibt es nicht. (Not found.)")
        active = await require(request)
        form = texts(await checked_form(request, active))
        statement = form.get("statement", "")
        _option, perform, _required, _label = ACTIONS[action]
        try:
            await run_in_threadpool(perform, ctx_of(request), active.identity, case_id, statement)
        except InvalidInput as exc:
            errors = field_error(exc, "statement")
            return await action_page(
                request, case_id, action, 422, errors=errors, submitted=statement
            )
        return RedirectResponse(f"/cases/{case_id}?done={action}", status_code=303)

    return router
