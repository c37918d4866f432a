"""After submitting: confirmation, "My applications", one case with its timeline and
documents, the receipt, and the data cockpit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from backend.cases import queries, review
from backend.cases.cockpit import data_cockpit
from backend.cases.drafts import my_drafts
from backend.cases.receipts import receipt_pdf
from backend.cases.uploads import StoredFile
from backend.cases.views import CaseView, Text
from backend.context import AppContext
from backend.definitions.models import ServiceDefinition
from backend.domain.case_state import SETTLED, CaseStatus
from backend.errors import NotFound
from frontend.rendering import N_, render
from frontend.web import ctx_of, require

WAITING_FOR_MACHINE = frozenset({CaseStatus.SUBMITTED, CaseStatus.PROCESSING})
"""While a case is in these states, an answer usually comes within seconds: the page polls."""


def handed_over(detail: queries.CaseDetail) -> bool:
    """A case of an external service (processing: external) now lies with the department's
    Fachverfahren: it stays "processing" here, but no answer comes within seconds."""
    return detail.case.status == CaseStatus.PROCESSING and any(
        e.kind == "handed_over" for e in detail.timeline
    )


def machine_at_work(detail: queries.CaseDetail) -> bool:
    """Whether an answer is due within seconds, so the page should update itself: the case is
    being decided, or the payment page is being opened, or a payment is being booked."""
    status = detail.case.status
    if status in WAITING_FOR_MACHINE:
        return not handed_over(detail)
    payment = detail.payment
    return status == CaseStatus.AWAITING_PAYMENT and (
        payment is None or payment.pay_url is None or payment.status == "paid"
    )


CITIZEN_REFERRAL_REASONS: dict[str, str] = {
    "no_legal_basis": N_(
        "Für diesen Antrag erlaubt das Gesetz keine automatische Entscheidung "
        "(§ 35a VwVfG): Ein Mensch entscheidet ihn immer."
    ),
    "automation_paused": N_(
        "Die Behörde entscheidet Anträge dieser Art gerade selbst statt automatisch."
    ),
    "disputed_data": N_("Sie haben eine Angabe aus einem Register als falsch gemeldet."),
    "remark": N_("Sie haben der Behörde eine Anmerkung geschrieben."),
    "registry_failure": N_(
        "Ein Register war nicht erreichbar; die Angaben daraus prüft ein Mensch nach."
    ),
    "held_data_missing": N_(
        "Ein Register hatte eine Angabe nicht, die Sie deshalb selbst eingetragen haben."
    ),
    "unverified_register_fact": N_(
        "Eine Angabe, die sonst aus einem Register kommt, haben Sie selbst eingetragen; "
        "ein Mensch prüft sie."
    ),
    "rule_referred": N_("Eine Voraussetzung kann nur ein Mensch beurteilen."),
    "rule_error": N_("Unsere automatische Prüfung konnte Ihren Antrag nicht abschließen."),
    "threshold": N_("Der Betrag liegt über der Grenze, bis zu der automatisch entschieden wird."),
    "outside_validity": N_(
        "Für den Stichtag Ihres Antrags gibt es keine automatisch anwendbaren Regeln."
    ),
    "qa_sample": N_(
        "Ihr Antrag wurde zufällig für eine Qualitätskontrolle ausgewählt. Das heißt nicht, "
        "dass etwas mit ihm nicht stimmt."
    ),
    "handover_rejected": N_("Das zuständige Fachverfahren hat den Antrag zurückgegeben."),
}
"""Why a person looks at a case, in plain words for its citizen; never the internal detail
(a rule's technical error, a register's failure message, who picked what)."""


def citizen_referral(
    detail: queries.CaseDetail, definition: ServiceDefinition
) -> tuple[list[str], list[Text]]:
    """The referral's reasons as catalogue messages, and the service's own words for a
    condition only a person can judge (a rule's `reason_otherwise`, as the citizen read it)."""
    decision = detail.case.decision
    if decision is None:
        return [], []
    codes = [c for c in decision.referral_reasons if c in CITIZEN_REFERRAL_REASONS]
    own: dict[str, str] = {}
    for rule in definition.rules:
        otherwise = getattr(rule, "reason_otherwise", None)
        prefix = otherwise.de.split("{", 1)[0].strip() if otherwise is not None else ""
        if prefix:
            own[rule.id] = prefix
    stated = [
        r.text
        for r in decision.reasons
        if r.rule_id in own and r.text.de.startswith(own[r.rule_id]) and "rule_referred" in codes
    ]
    return [CITIZEN_REFERRAL_REASONS[c] for c in codes], stated


def _pdf(stored: StoredFile) -> Response:
    return Response(
        stored.content,
        media_type=stored.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{stored.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def authorities(ctx: AppContext, cases: list[CaseView]) -> dict[str, str]:
    """Which authority decides each case: a citizen who moved keeps earlier cases with the town
    that decided them (issue 13, item 3), and the list says which one that is."""
    named: dict[str, str] = {}
    for case in cases:
        try:
            definition = ctx.definition(case.service, tenant=case.tenant)
        except NotFound:
            continue
        named[case.id] = definition.authority or ctx.settings.authority_name
    return named


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/cases")
    async def cases_page(request: Request, deleted: str = "") -> Response:
        active = await require(request)
        ctx = ctx_of(request)
        cases = await run_in_threadpool(queries.my_cases, ctx, active.identity)
        drafts = await run_in_threadpool(my_drafts, ctx, active.identity)
        return render(
            request,
            "cases.html",
            cases=cases,
            drafts=drafts,
            catalogue=ctx.catalogue,
            authorities=authorities(ctx, cases) if ctx.tenancy.tenants else {},
            deleted=deleted == "1",
        )

    async def case_context(request: Request, case_id: str) -> dict[str, Any]:
        active = await require(request)
        ctx = ctx_of(request)

        def load() -> tuple[queries.CaseDetail, review.CaseActions]:
            return (
                queries.my_case(ctx, active.identity, case_id),
                review.case_actions(ctx, active.identity, case_id),
            )

        detail, actions = await run_in_threadpool(load)
        definition = ctx.definition(detail.case.service, tenant=detail.case.tenant)
        why, stated = citizen_referral(detail, definition)
        return {
            "detail": detail,
            "case": detail.case,
            "place_id": detail.case.tenant,
            "actions": actions,
            "service": definition,
            "referral_why": why,
            "referral_stated": stated,
            "pending": machine_at_work(detail),
            "handed_over": handed_over(detail),
            "settled": detail.case.status in SETTLED,
        }

    @router.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: str, done: str = "") -> Response:
        context = await case_context(request, case_id)
        return render(request, "case.html", done=done, **context)

    @router.get("/cases/{case_id}/submitted")
    async def confirmation(request: Request, case_id: str) -> Response:
        return render(request, "confirmation.html", **await case_context(request, case_id))

    @router.get("/cases/{case_id}/receipt")
    async def receipt(request: Request, case_id: str) -> Response:
        active = await require(request)
        stored = await run_in_threadpool(receipt_pdf, ctx_of(request), active.identity, case_id)
        return _pdf(stored)

    @router.get("/cases/{case_id}/documents/{document_id}")
    async def document(request: Request, case_id: str, document_id: str) -> Response:
        active = await require(request)
        stored = await run_in_threadpool(
            queries.my_document, ctx_of(request), active.identity, case_id, document_id
        )
        return _pdf(stored)

    @router.get("/my-data")
    async def my_data(request: Request) -> Response:
        active = await require(request)
        cockpit = await run_in_threadpool(data_cockpit, ctx_of(request), active.identity)
        return render(request, "mydata.html", cockpit=cockpit)

    return router
