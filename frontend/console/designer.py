"""The service designer's pages: services and versions, drafts with forms and a code view,
checks on every save, review by a second person, publication (backend/console/designer.py).
Plain forms, no JavaScript needed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from backend.cases.drafts import TOPIC_PREFIX, DraftState
from backend.console import designer, designer_forms
from backend.console.models import ServiceDraft
from backend.definitions.constraints import local_today
from backend.definitions.yaml_lines import load_yaml
from backend.department.identity import ClerkIdentity, Permission
from backend.errors import InvalidInput, KnopfdruckError, NotFound
from frontend import flow
from frontend.console.common import render, require_clerk
from frontend.pages_application import normalise_amount, parse_date
from frontend.rendering import N_, localized_message
from frontend.rendering import render as portal_render
from frontend.web import checked_form, ctx_of, texts
from sandbox.personas import PERSONAS

MAX_POST_BYTES = designer.MAX_TEXT_BYTES * 2 + 64 * 1024
"""The code view posts the definition and the test cases together."""
T = TypeVar("T")
DRAFT_STATES = {
    "draft": N_("Entwurf"),
    "in_review": N_("Wartet auf Freigabe"),
    "returned": N_("Zurückgegeben"),
    "published": N_("Veröffentlicht"),
    "discarded": N_("Verworfen"),
}
DONE = {
    "saved": N_("Gespeichert und geprüft."),
    "checked": N_("Erneut geprüft."),
    "submitted": N_("Zur Freigabe gegeben."),
    "returned": N_("An die Verfasserin oder den Verfasser zurückgegeben."),
    "published": N_("Veröffentlicht: die Fassung gilt ab dem genannten Tag, ohne Neustart."),
    "discarded": N_("Verworfen."),
}
OUTCOMES = {
    "approved": N_("Bewilligung"),
    "rejected": N_("Ablehnung"),
    "referred": N_("An die Sachbearbeitung"),
    "incomplete": N_("Unvollständig"),
    "forbidden": N_("Vertrauensniveau der Anmeldung zu niedrig"),
    "handed_over": N_("An das Fachverfahren übergeben"),
}
CHANGES = {"added": N_("neu"), "removed": N_("entfernt"), "changed": N_("geändert")}
FIELD_TYPE_LABELS = {
    "string": N_("Text, eine Zeile"),
    "text": N_("Text, mehrere Zeilen"),
    "integer": N_("Ganze Zahl"),
    "decimal": N_("Dezimalzahl"),
    "date": N_("Datum"),
    "boolean": N_("Ja oder nein"),
    "choice": N_("Auswahl"),
    "email": N_("E-Mail-Adresse"),
    "iban": N_("IBAN (Kontonummer)"),
}
REGIME_LABELS = {
    "vwgo_klage": N_("Klage beim Verwaltungsgericht, ohne Widerspruch (VwGO)"),
    "vwgo_vorverfahren": N_("Widerspruch, dann Klage (§§ 68 ff. VwGO)"),
    "ao_einspruch": N_("Einspruch (§§ 347 ff. AO)"),
    "sgg_widerspruch": N_("Widerspruch (§§ 78 ff. SGG)"),
    "no_administrative_act": N_("Kein Verwaltungsakt, kein Rechtsbehelf (z. B. Bescheinigung)"),
}
TRIGGER_LABELS = {
    "disputed_data": N_("die Bürgerin eine Angabe aus dem Register als falsch meldet"),
    "remark": N_("sie eine Bemerkung schreibt"),
    "registry_failure": N_("ein Register nicht erreichbar war und sie den Wert selbst eintrug"),
    "held_data_missing": N_("ein Register keine Angabe hatte und sie den Wert selbst eintrug"),
    "rule_referred": N_("eine Regel den Fall an die Sachbearbeitung gibt"),
    "qa_sample": N_("der Fall in die Stichprobe der Qualitätssicherung fällt"),
}


def _env(request: Request) -> designer.CheckSettings:
    ctx = ctx_of(request)
    return designer.CheckSettings(ctx.settings, ctx.catalogue, ctx.connectors)


def _may_see(clerk: ClerkIdentity) -> None:
    """Designers write drafts; supervisors review them; nobody else has business here."""
    if not (clerk.can(Permission.DESIGN) or clerk.can(Permission.PUBLISH_DEFINITIONS)):
        designer.require(clerk, Permission.DESIGN)


async def _in_session(request: Request, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with Session(ctx_of(request).engine) as session:
            return work(session)

    return await run_in_threadpool(run)


def _errors(exc: KnopfdruckError, prefix: str = "") -> list[dict[str, str]]:
    """The problems of a refused step, each as a line of the error summary that links to the
    input it is about (``prefix``-``field`` in the form that was sent), else to the checks."""
    details = [
        {
            "field": str(d.get("field", "definition")),
            "href": f"#{prefix}-{d.get('field')}" if prefix and d.get("field") else "#checks",
            "message_de": str(d.get("message", "")),
            "message": str(d.get("message", "")),
        }
        for d in getattr(exc, "details", None) or []
    ]
    head = {
        "field": "definition",
        "href": "#checks",
        "message_de": localized_message(exc.message, "de"),
        "message": localized_message(exc.message, "en"),
    }
    return [head, *details]


def _draft_page(
    request: Request,
    clerk: ClerkIdentity,
    draft: ServiceDraft,
    *,
    errors: list[dict[str, str]] | None = None,
    submitted: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = ctx_of(request)
    try:
        data = load_yaml(draft.text)
    except yaml.YAMLError:
        data = {}
    base_text = ""
    if draft.base_version and draft.service in ctx.catalogue:
        try:
            base_text = designer.version_text(ctx.catalogue, draft.service, draft.base_version)
        except KnopfdruckError:
            base_text = ""
    rows = designer.version_diff(base_text, draft.text) if base_text else []
    return render(
        request,
        "console/designer_draft.html",
        {
            "draft": draft,
            "values": designer.editable_values(draft.text),
            "parameters": _parameter_names(draft.text),
            "diff_rows": rows,
            "text_diff": designer.text_diff(
                base_text, draft.text, f"Version {draft.base_version}", "Entwurf"
            )
            if base_text
            else "",
            "current": designer.checks_current(draft),
            "is_author": draft.author == clerk.sub,
            "can_design": clerk.can(Permission.DESIGN),
            "can_review": clerk.can(Permission.PUBLISH_DEFINITIONS) and draft.author != clerk.sub,
            "today": local_today().isoformat(),
            "personas": [p for p in PERSONAS if not p.is_clerk],
            "outcomes": designer.draft_outcomes(draft.text),
            "outcome_labels": OUTCOMES,
            "errors": errors or [],
            "submitted": submitted or {},
            "items": _items(data),
            "procedure": designer_forms.procedure_values(data),
            "automation": designer_forms.automation_values(data),
            "attributes": designer_forms.register_attributes(ctx.connectors),
            "field_types": designer_forms.FIELD_TYPES,
            "field_type_labels": FIELD_TYPE_LABELS,
            "regimes": designer_forms.REGIMES,
            "regime_labels": REGIME_LABELS,
            "triggers": designer_forms.TRIGGERS,
            "trigger_labels": TRIGGER_LABELS,
            "done": request.query_params.get("done")
            if request.query_params.get("done") in DONE
            else None,
            "done_messages": DONE,
            "draft_states": DRAFT_STATES,
            "change_labels": CHANGES,
        },
        status_code=status_code,
    )


KEEP_PREFIX = {
    "fields": "field",
    "rules": "rule",
    "fees": "fee",
    "parameter": "newparam",
    "procedure": "procedure",
    "automation": "automation",
}
"""Each structured form's input ids start with its prefix, so an error links to its input."""


def _kept(keep: str, form: dict[str, str]) -> dict[str, Any]:
    """What a refused form sent, as the form shows it again."""
    if keep == "automation":
        return {
            "legal_basis": form.get("legal_basis", ""),
            "triggers": [k.removeprefix("trigger__") for k in form if k.startswith("trigger__")],
            "sample_percent": form.get("sample_percent", ""),
        }
    kept: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf_token"}
    if keep == "fields" and "required" not in form:
        kept["required"] = "no"
    return kept


def _day(raw: str) -> date:
    """A day as a person types it (01.01.2027), or a refusal naming the valid_from input."""
    parsed = parse_date(raw)
    if not parsed:
        raise InvalidInput(
            "Bitte ein Datum wie 01.01.2027 angeben. (Enter a date like 01/01/2027.)",
            details=[{"field": "valid_from", "message": "not a date"}],
        )
    return date.fromisoformat(parsed)


def _known_list(kind: str) -> None:
    """Fields, rules and fees have add and remove forms; any other list is no page."""
    if kind not in designer_forms.LIST_KEYS:
        raise NotFound("Diese Seite gibt es nicht. (Not found.)")


def _save(
    env: designer.CheckSettings, s: Session, c: ClerkIdentity, d: ServiceDraft, text: str
) -> None:
    """Store the text a form wrote and check the draft at once, as every save does."""
    designer.save_draft(s, c, d, text=text)
    designer.check_draft(s, c, env, d)


def _items(data: Any) -> dict[str, Any]:
    """The draft's fields (with where each comes from), rules and fees, for the forms."""
    if not isinstance(data, dict):
        data = {}

    def ids(key: str) -> list[str]:
        items = data.get(key)
        if not isinstance(items, list):
            return []
        return [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]

    fields = []
    for item in data.get("fields") or []:
        if not isinstance(item, dict):
            continue
        label = item.get("label")
        source = item.get("source")
        fields.append(
            {
                "id": item.get("id", ""),
                "label": label.get("de", "") if isinstance(label, dict) else "",
                "type": item.get("type", ""),
                "source": f"{source.get('connector')}.{source.get('attribute')}"
                if isinstance(source, dict)
                else "",
            }
        )
    return {
        "fields": fields,
        "field_ids": ids("fields"),
        "rule_ids": ids("rules"),
        "fee_ids": ids("fees"),
    }


def _as_typed(state: DraftState, answers: dict[str, str]) -> dict[str, str]:
    """The preview's answers as the portal hands them to intake: amounts as the German form
    writes them become decimal points, dates ISO days (an unreadable one stays as typed)."""
    kinds = {f.id: f.type for f in state.definition.fields}
    typed: dict[str, str] = {}
    for key, raw in answers.items():
        if kinds.get(key) == "decimal":
            typed[key] = normalise_amount(raw, "de")
        elif kinds.get(key) == "date":
            typed[key] = parse_date(raw) or raw
        elif key in kinds:
            typed[key] = raw
    return typed


def _form_preview_page(
    request: Request,
    draft: ServiceDraft,
    state: DraftState,
    persona: str,
    step: str,
    answers: dict[str, str],
    verdict: designer.PreviewVerdict | None = None,
) -> Response:
    """One of the citizen's pages in preview mode: the held data, a question page, or the end."""
    base = f"/console/designer/drafts/{draft.id}"
    order = [s.id for s in flow.steps(state)]
    current = step if step in order else (order[0] if order else "")
    at = order.index(current) if current in order else len(order)
    following = order[at + 1] if at + 1 < len(order) else "end"
    page = (
        flow.topic_page(state, current.removeprefix(TOPIC_PREFIX))
        if current.startswith(TOPIC_PREFIX)
        else None
    )
    shown = {f.id for f in page.fields} if page else set()
    preview = {
        "action": f"{base}/form",
        "persona": persona,
        "next": following,
        "carry": {k: v for k, v in answers.items() if k not in shown},
        "steps": [
            {"title": s.title, "url": f"{base}/form?persona={persona}&step={s.id}", "id": s.id}
            for s in flow.steps(state)
        ],
        "current": current,
        "draft_url": base,
        "persona_name": next(
            (f"{p.given_name} {p.family_name}" for p in PERSONAS if p.id == persona), persona
        ),
        "answers": answers,
        "verdict": verdict,
        "outcome_labels": OUTCOMES,
        "can_save": draft.status in designer.OPEN_STATES,
    }
    common: dict[str, Any] = {
        "state": state,
        "service": state.definition,
        "app": state.application,
        "steps": [],
        "task_list": False,
        "preview": preview,
    }
    if step == "end" or not order:
        return portal_render(request, "preview_end.html", **common)
    if page is None:
        return portal_render(
            request,
            "held.html",
            groups=flow.held_groups(state),
            not_retrieved=flow.not_retrieved(state),
            back=False,
            **common,
        )
    return portal_render(
        request,
        "topic.html",
        page=page,
        uploads={},
        multipart=False,
        back_to_check=False,
        **common,
    )


def _parameter_names(text: str) -> list[str]:
    try:
        data = load_yaml(text)
    except yaml.YAMLError:
        return []
    params = data.get("parameters") if isinstance(data, dict) else None
    return sorted(params) if isinstance(params, dict) else []


def build() -> APIRouter:
    router = APIRouter()

    @router.get("/console/designer")
    async def designer_home(request: Request) -> Response:
        """The department's services with every version, and its drafts."""
        clerk = await require_clerk(request)
        _may_see(clerk)
        ctx = ctx_of(request)
        services = designer.department_services(ctx.catalogue, clerk)
        drafts = await _in_session(request, lambda s: designer.drafts_of(s, clerk))
        return render(
            request,
            "console/designer.html",
            {
                "services": services,
                "versions": {d.id: ctx.catalogue.versions(d.id) for d in services},
                "drafts": drafts,
                "can_design": clerk.can(Permission.DESIGN),
                "draft_states": DRAFT_STATES,
            },
        )

    @router.post("/console/designer/drafts")
    async def designer_new(request: Request) -> Response:
        """A draft of a service (from the version in force or an older one) or a new service."""
        clerk = await require_clerk(request)
        form = texts(await checked_form(request, request.state.portal_session))
        ctx = ctx_of(request)
        slug = form.get("new_service", "").strip()

        def create(session: Session) -> ServiceDraft:
            if slug:
                return designer.new_service_draft(session, clerk, ctx.catalogue, slug)
            draft = designer.start_draft(
                session,
                clerk,
                ctx.catalogue,
                form.get("service", ""),
                form.get("from_version") or None,
            )
            return designer.check_draft(session, clerk, _env(request), draft)

        draft = await _in_session(request, create)
        if slug:
            await _in_session(
                request,
                lambda s: designer.check_draft(
                    s, clerk, _env(request), designer.get_draft(s, clerk, draft.id)
                ),
            )
        return RedirectResponse(f"/console/designer/drafts/{draft.id}", status_code=303)

    @router.post("/console/designer/drafts/fim")
    async def designer_new_from_fim(request: Request) -> Response:
        """A new service from a FIM XDatenfelder schema; its TODOs keep it red until filled."""
        clerk = await require_clerk(request)
        form = await checked_form(
            request,
            request.state.portal_session,
            max_bytes=designer.MAX_TEXT_BYTES * 8 + 16 * 1024,
            max_files=1,
        )
        upload = form.get("fim")
        if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
            raise InvalidInput("Bitte eine FIM-Datei wählen. (Choose a FIM file.)")
        data = await upload.read(designer.MAX_TEXT_BYTES * 8 + 1)
        slug = str(form.get("slug") or "").strip()
        ctx = ctx_of(request)

        def create(session: Session) -> ServiceDraft:
            draft = designer.fim_service_draft(
                session, clerk, ctx.catalogue, ctx.connectors, data, upload.filename or "", slug
            )
            return designer.check_draft(session, clerk, _env(request), draft)

        draft = await _in_session(request, create)
        return RedirectResponse(f"/console/designer/drafts/{draft.id}", status_code=303)

    @router.get("/console/designer/drafts/{draft_id}")
    async def designer_draft(request: Request, draft_id: str) -> Response:
        clerk = await require_clerk(request)
        _may_see(clerk)
        draft = await _in_session(request, lambda s: designer.get_draft(s, clerk, draft_id))
        return _draft_page(request, clerk, draft)

    async def _step(
        request: Request,
        draft_id: str,
        action: Callable[[Session, ClerkIdentity, ServiceDraft, dict[str, str]], Any],
        *,
        max_bytes: int | None = None,
        done: str = "saved",
        keep: str = "",
    ) -> Response:
        """One form post on a draft: run it, then show the draft again (303 or the errors);
        a refused form named by ``keep`` comes back filled in as it was sent."""
        clerk = await require_clerk(request)
        _may_see(clerk)
        form = texts(
            await checked_form(
                request, request.state.portal_session, max_bytes=max_bytes or 64 * 1024
            )
        )

        def run(session: Session) -> ServiceDraft:
            draft = designer.get_draft(session, clerk, draft_id)
            action(session, clerk, draft, form)
            return designer.get_draft(session, clerk, draft_id)

        try:
            await _in_session(request, run)
        except KnopfdruckError as exc:
            if exc.status_code >= 500 or exc.status_code in (401, 403, 404):
                raise
            draft = await _in_session(request, lambda s: designer.get_draft(s, clerk, draft_id))
            return _draft_page(
                request,
                clerk,
                draft,
                errors=_errors(exc, KEEP_PREFIX.get(keep, "")),
                submitted={keep: _kept(keep, form)} if keep else None,
                status_code=422,
            )
        return RedirectResponse(
            f"/console/designer/drafts/{draft_id}?done={done}#checks", status_code=303
        )

    @router.post("/console/designer/drafts/{draft_id}/values")
    async def designer_values(request: Request, draft_id: str) -> Response:
        """Save the form's values into the text, then check the draft."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            text = d.text
            for value in designer.editable_values(d.text):
                posted = form.get(value.key)
                if posted is not None and posted != value.value:
                    text = designer.edit_value(text, value.path, posted, literal=value.literal)
            _save(_env(request), s, c, d, text)

        return await _step(request, draft_id, action)

    @router.post("/console/designer/drafts/{draft_id}/parameter")
    async def designer_parameter(request: Request, draft_id: str) -> Response:
        """Add a dated value to a parameter (e.g. next year's fee), then check."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            day = _day(form.get("valid_from", ""))
            text = designer.add_parameter_value(
                d.text,
                form.get("parameter", ""),
                day,
                form.get("value", ""),
                form.get("legal_reference", ""),
            )
            _save(_env(request), s, c, d, text)

        return await _step(request, draft_id, action)

    @router.post("/console/designer/drafts/{draft_id}/code")
    async def designer_code(request: Request, draft_id: str) -> Response:
        """The code view: the whole YAML of the definition and of its test cases."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            designer.save_draft(
                s, c, d, text=form.get("definition", d.text), tests_text=form.get("tests")
            )
            designer.check_draft(s, c, _env(request), d)

        return await _step(request, draft_id, action, max_bytes=MAX_POST_BYTES)

    @router.post("/console/designer/drafts/{draft_id}/check")
    async def designer_check(request: Request, draft_id: str) -> Response:
        """Check again, e.g. after the department's cases or the other services changed."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            designer.check_draft(s, c, _env(request), d)

        return await _step(request, draft_id, action, done="checked")

    @router.post("/console/designer/drafts/{draft_id}/submit")
    async def designer_submit(request: Request, draft_id: str) -> Response:
        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            designer.submit(s, c, d)

        return await _step(request, draft_id, action, done="submitted")

    @router.post("/console/designer/drafts/{draft_id}/return")
    async def designer_return(request: Request, draft_id: str) -> Response:
        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            designer.return_draft(s, c, d, form.get("comment", ""))

        return await _step(request, draft_id, action, done="returned")

    @router.post("/console/designer/drafts/{draft_id}/discard")
    async def designer_discard(request: Request, draft_id: str) -> Response:
        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            designer.discard(s, c, d)

        return await _step(request, draft_id, action, done="discarded")

    @router.post("/console/designer/drafts/{draft_id}/publish")
    async def designer_publish(request: Request, draft_id: str) -> Response:
        """Approve and publish (four eyes); this process takes the new catalogue at once."""
        ctx = ctx_of(request)

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            raw = form.get("valid_from", "").strip()
            day = _day(raw) if raw else local_today()
            ctx.catalogue = designer.publish(s, c, _env(request), d, day, form.get("comment", ""))

        return await _step(request, draft_id, action, done="published")

    @router.post("/console/designer/drafts/{draft_id}/items/{kind}/add")
    async def designer_add_item(request: Request, draft_id: str, kind: str) -> Response:
        """Add a field (with its data need), a rule or a fee from the form, then check."""
        connectors = ctx_of(request).connectors

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            _known_list(kind)  # after the CSRF check of _step, like every refusal
            item = (
                designer_forms.field_item(form, connectors)
                if kind == "fields"
                else designer_forms.rule_item(form)
                if kind == "rules"
                else designer_forms.fee_item(form)
            )
            _save(_env(request), s, c, d, designer_forms.append_item(d.text, kind, item))

        return await _step(request, draft_id, action, keep=kind)

    @router.post("/console/designer/drafts/{draft_id}/items/{kind}/remove")
    async def designer_remove_item(request: Request, draft_id: str, kind: str) -> Response:
        """Remove a field, rule or fee; what still refers to it turns the checks red."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            _known_list(kind)
            _save(
                _env(request), s, c, d, designer_forms.remove_item(d.text, kind, form.get("id", ""))
            )

        return await _step(request, draft_id, action)

    @router.post("/console/designer/drafts/{draft_id}/parameters/new")
    async def designer_new_parameter(request: Request, draft_id: str) -> Response:
        """A new parameter with its first dated value."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            day = _day(form.get("valid_from", ""))
            text = designer_forms.add_parameter(
                d.text,
                form.get("name", "").strip(),
                day,
                form.get("value", ""),
                form.get("legal_reference", ""),
            )
            _save(_env(request), s, c, d, text)

        return await _step(request, draft_id, action, keep="parameter")

    @router.post("/console/designer/drafts/{draft_id}/procedure")
    async def designer_procedure(request: Request, draft_id: str) -> Response:
        """The remedy the notice names: regime, authority and court."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            _save(_env(request), s, c, d, designer_forms.set_procedure(d.text, form))

        return await _step(request, draft_id, action, keep="procedure")

    @router.post("/console/designer/drafts/{draft_id}/automation")
    async def designer_automation(request: Request, draft_id: str) -> Response:
        """The legal basis of automated decisions and when a case always goes to a person."""

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            triggers = [k.removeprefix("trigger__") for k in form if k.startswith("trigger__")]
            text = designer_forms.set_automation(
                d.text, form.get("legal_basis", ""), triggers, form.get("sample_percent", "")
            )
            _save(_env(request), s, c, d, text)

        return await _step(request, draft_id, action, keep="automation")

    @router.get("/console/designer/drafts/{draft_id}/preview")
    async def designer_preview(request: Request, draft_id: str) -> Response:
        """The draft's notice for a test persona as a PDF, as it would be issued."""
        clerk = await require_clerk(request)
        _may_see(clerk)
        persona = request.query_params.get("persona", "")[:64]
        outcome = request.query_params.get("outcome", "")[:16]
        env = _env(request)

        def run(session: Session) -> tuple[bytes, str]:
            draft = designer.get_draft(session, clerk, draft_id)
            return designer.preview_pdf(clerk, env, draft, persona, outcome)

        try:
            pdf, name = await _in_session(request, run)
        except InvalidInput as exc:
            draft = await _in_session(request, lambda s: designer.get_draft(s, clerk, draft_id))
            return _draft_page(request, clerk, draft, errors=_errors(exc), status_code=422)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )

    @router.get("/console/designer/drafts/{draft_id}/form")
    async def designer_form_preview(request: Request, draft_id: str) -> Response:
        """The citizen's pages for the draft with a test persona's held data: the portal's own
        templates, in preview mode (forms only move between preview pages, nothing is sent)."""
        clerk = await require_clerk(request)
        _may_see(clerk)
        query = request.query_params
        persona = query.get("persona", "")[:64]
        step = query.get("step", "")[:80]
        answers = {
            k.removeprefix("answer__")[:64]: v[:2000]
            for k, v in list(query.multi_items())[:200]
            if k.startswith("answer__")
        }
        env = _env(request)

        def run(
            session: Session,
        ) -> tuple[ServiceDraft, DraftState, designer.PreviewVerdict | None]:
            draft = designer.get_draft(session, clerk, draft_id)
            state = designer.form_preview(clerk, env, draft, persona, answers)
            verdict = None
            if step == "end":
                typed = _as_typed(state, answers)
                verdict = designer.preview_verdict(clerk, env, draft, persona, typed)
            return draft, state, verdict

        try:
            draft, state, verdict = await _in_session(request, run)
        except InvalidInput as exc:
            draft = await _in_session(request, lambda s: designer.get_draft(s, clerk, draft_id))
            return _draft_page(request, clerk, draft, errors=_errors(exc), status_code=422)
        return _form_preview_page(request, draft, state, persona, step, answers, verdict)

    @router.post("/console/designer/drafts/{draft_id}/tests/add")
    async def designer_add_test(request: Request, draft_id: str) -> Response:
        """Keep the form preview's answers as a test case, expecting what the rules decide."""
        env = _env(request)

        def action(s: Session, c: ClerkIdentity, d: ServiceDraft, form: dict[str, str]) -> None:
            persona = form.get("persona", "")[:64]
            answers = {
                k.removeprefix("answer__")[:64]: v[:2000]
                for k, v in list(form.items())[:200]
                if k.startswith("answer__")
            }
            state = designer.form_preview(c, env, d, persona, answers)
            designer.add_test_case(
                s, c, env, d, form.get("name", ""), persona, _as_typed(state, answers)
            )

        return await _step(request, draft_id, action)

    @router.get("/console/designer/services/{service}/diff")
    async def designer_diff(request: Request, service: str) -> Response:
        """What changed between any two versions of a service."""
        clerk = await require_clerk(request)
        _may_see(clerk)
        ctx = ctx_of(request)
        if (
            service not in ctx.catalogue
            or ctx.catalogue.get(service).department != clerk.department
        ):
            raise InvalidInput("Diesen Dienst gibt es nicht. (Unknown service.)")
        versions = [d.version for d in ctx.catalogue.versions(service)]
        before = request.query_params.get("from") or (
            versions[-2] if len(versions) > 1 else versions[0]
        )
        after = request.query_params.get("to") or versions[-1]
        if before not in versions or after not in versions:
            before, after = versions[0], versions[-1]
        old = designer.version_text(ctx.catalogue, service, before)
        new = designer.version_text(ctx.catalogue, service, after)
        return render(
            request,
            "console/designer_diff.html",
            {
                "service": ctx.catalogue.get(service),
                "versions": versions,
                "before": before,
                "after": after,
                "rows": designer.version_diff(old, new),
                "text_diff": designer.text_diff(old, new, f"Version {before}", f"Version {after}"),
                "change_labels": CHANGES,
            },
        )

    return router
