"""The service designer: drafts of a department's services, checked, reviewed and published.

Decisions (issue 15, part 2), written down here because the code follows them:

- **The YAML file stays the truth.** A draft is the text of a definition file. Forms edit
  single values of that text in place (``edit_value``, ``add_parameter_value``), so comments and
  layout survive and git keeps the history of what was published.
- **A draft is always a new version**, never an edit of a published one. Publishing writes
  ``versions/<valid_from>.yaml`` (or, for a new service, its folder) and ends the version in
  force the day before; that end date is the only thing ever written into a published file,
  its rules and texts never change. Rolling back is a draft started from the older version
  and published again under a new version number. Running cases keep their version.
- **Checked exactly as it will run.** ``check_draft`` builds the service's folder as
  publishing would in a temporary directory, loads it with the catalogue's own loader
  (``validate``), runs the service's integrator tests as ``services test`` would (rendering
  every case's documents) and replays the department's recent cases (impact analysis). Only
  a draft whose last check of exactly its current text passed can be submitted; publishing
  checks again and then validates the whole services tree, restoring the files if anything
  is refused, so the designer can never publish a definition ``validate`` refuses.
- **Four eyes.** A designer writes; a supervisor of the same department who is not the
  author approves (publishes) or returns the draft with a comment.
- **Every process follows.** A publication is a ``catalogue_revisions`` row; each web process
  and worker polls the newest id (``CatalogueFollower``) and reloads the services folder when
  it changes. Several machines need the services folder on shared storage (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from backend.cases.drafts import DraftState
from backend.cases.preview import RenderError, persona_prefill, preview_case, render_preview
from backend.cases.service_tests import (
    CaseResult,
    Expectation,
    SandboxPrefill,
    ServiceTestCase,
    TenantTests,
    run_case,
    run_service_tests_sync,
)
from backend.cases.views import application_view
from backend.columns import utcnow
from backend.console import impact
from backend.console.designer_forms import append_item, compose_text
from backend.console.models import CatalogueRevision, ServiceDraft
from backend.definitions.catalogue import Catalogue
from backend.definitions.constraints import local_today
from backend.definitions.fim.mapping import slug_for
from backend.definitions.fim.reading import FimImportError, parse_fim
from backend.definitions.fim.skeleton import to_definition_yaml
from backend.definitions.loader import DEFINITION_FILE, load_tree
from backend.definitions.models import ServiceDefinition
from backend.definitions.reload import Poller
from backend.definitions.scaffold import LISTING_NOTICE_TEMPLATE, ScaffoldError, scaffold_files
from backend.definitions.versions import VERSIONS_DIR, definition_files
from backend.definitions.yaml_lines import load_yaml
from backend.department.identity import ClerkIdentity, Permission
from backend.documents import NoticeRenderer
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.notices.issue import render_problems
from backend.records.models import Application
from backend.settings import Settings
from backend.tenants.loader import load_tenants
from prefill.connectors.registry import ConnectorRegistry
from sandbox.personas import Persona, persona_by_id

_log = logging.getLogger(__name__)

MAX_TEXT_BYTES = impact.MAX_DRAFT_BYTES
TESTS_FILE = "tests/cases.yaml"
OPEN_STATES = ("draft", "returned")
"""A draft the designer may still change."""
IMPACT_DAYS = 90
_TOP_LEVEL = re.compile(r"^(?P<key>[a-z_]+):(?P<rest>.*)$", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# Text of definitions: read, edit in place, compare


version_text = impact.version_text
"""The file text of one version of a service, as the designer starts a draft from it."""


def set_top_level(text: str, key: str, value: str | None, *, after: str | None = None) -> str:
    """Set (or, with None, remove) one top-level `key: value` line, keeping everything else.

    Top-level keys start at column 0 in every definition, so one line is the whole value for
    the scalars this is used for (version, valid_from, valid_until, department)."""
    pattern = re.compile(rf"^{re.escape(key)}:.*\n?", re.MULTILINE)
    if value is None:
        return pattern.sub("", text, count=1)
    line = f"{key}: {value}\n"
    if pattern.search(text):
        return pattern.sub(line, text, count=1)
    anchor = re.compile(rf"^{re.escape(after)}:.*\n", re.MULTILINE) if after else None
    found = anchor.search(text) if anchor else None
    if found is None:
        return line + text
    return text[: found.end()] + line + text[found.end() :]


def _node_at(root: yaml.Node, path: tuple[str | int, ...]) -> yaml.Node | None:
    """The node at a path of mapping keys and list indexes, or None."""
    node: yaml.Node | None = root
    for step in path:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            node = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if 0 <= step < len(node.value) else None
        else:
            return None
    return node


_compose = compose_text


def _quoted(value: str) -> str:
    """A YAML scalar for any text: JSON's double-quoted strings are valid YAML."""
    return json.dumps(value, ensure_ascii=False)


def edit_value(text: str, path: tuple[str | int, ...], value: str, *, literal: bool) -> str:
    """Replace the scalar at ``path`` in the text, leaving every other byte as it was.

    ``literal`` writes a number or date as it is (after checking it is one); otherwise the
    value is written as a quoted string."""
    node = _node_at(_compose(text), path)
    if not isinstance(node, yaml.ScalarNode):
        raise InvalidInput(f"Kein Wert unter {_path_text(path)}. (No value at that path.)")
    if literal:
        if not re.fullmatch(r"-?\d+(\.\d+)?|\d{4}-\d{2}-\d{2}", value.strip()):
            raise InvalidInput(
                f"„{value}“ ist keine Zahl und kein Datum. (Not a number or a date.)"
            )
        new = value.strip()
    else:
        new = _quoted(value)
    start, end = node.start_mark.index, node.end_mark.index
    # A block scalar (| or >) ends after its line break, sometimes with the next line's
    # indent: keep that, so the following key stays where it was.
    old = text[start:end]
    trailing = old[len(old.rstrip()) :] if node.style in ("|", ">") else ""
    return text[:start] + new + trailing + text[end:]


def _path_text(path: tuple[str | int, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


def add_parameter_value(
    text: str, name: str, valid_from: date, value: str, legal_reference: str
) -> str:
    """Add a dated value to a parameter (a new fee from next year), as one line of its list."""
    node = _node_at(_compose(text), ("parameters", name))
    if not isinstance(node, yaml.SequenceNode) or node.flow_style or not node.value:
        raise InvalidInput(
            f"Der Parameter „{name}“ lässt sich nur in der Code-Ansicht ändern. "
            f"(Parameter '{name}' can only be edited in the code view.)"
        )
    if not re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        raise InvalidInput(f"„{value}“ ist keine Zahl. (Not a number.)")
    last = node.value[-1]
    lines = text.splitlines(keepends=True)
    item_line = lines[last.start_mark.line]
    indent = item_line[: len(item_line) - len(item_line.lstrip())]
    entry = f"{{ valid_from: {valid_from.isoformat()}, value: {value.strip()}"
    if legal_reference.strip():
        entry += f", legal_reference: {_quoted(legal_reference.strip())}"
    new_line = f"{indent}- {entry} }}\n"
    end_line = last.end_mark.line + (1 if last.end_mark.column > 0 else 0)
    return "".join(lines[:end_line]) + new_line + "".join(lines[end_line:])


@dataclass(frozen=True)
class EditableValue:
    """One value the designer's form offers, with where it lives in the text."""

    path: tuple[str | int, ...]
    label: str
    value: str
    literal: bool
    multiline: bool = False

    @property
    def key(self) -> str:
        """The form field's name: the path as JSON, so it round-trips exactly."""
        return json.dumps(list(self.path), ensure_ascii=False)


def editable_values(text: str) -> list[EditableValue]:
    """The values a business designer changes most: texts (de/en), parameters, rules and
    their reasons, fee labels. Everything else is edited in the code view."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError:
        return []
    if not isinstance(data, dict):
        return []
    found: list[EditableValue] = []

    def text_pair(path: tuple[str | int, ...], label: str, node: Any, long: bool) -> None:
        if isinstance(node, dict):
            for lang in ("de", "en"):
                if isinstance(node.get(lang), str):
                    found.append(
                        EditableValue((*path, lang), f"{label} ({lang})", node[lang], False, long)
                    )

    text_pair(("title",), "Titel", data.get("title"), False)
    text_pair(("description",), "Beschreibung", data.get("description"), True)
    if isinstance(data.get("legal_basis"), str):
        found.append(
            EditableValue(
                ("legal_basis",), "Rechtsgrundlage des Dienstes", data["legal_basis"], False
            )
        )
    for name, values in (data.get("parameters") or {}).items():
        for index, entry in enumerate(values or []):
            if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
                since = entry.get("valid_from")
                found.append(
                    EditableValue(
                        ("parameters", name, index, "value"),
                        f"Parameter {name}, ab {since}",
                        str(entry["value"]),
                        True,
                    )
                )
    for index, rule in enumerate(data.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        rid = rule.get("id", index)
        for key, label in (
            ("condition", "Bedingung"),
            ("expression", "Berechnung"),
            ("legal_reference", "Rechtsgrundlage"),
        ):
            if isinstance(rule.get(key), str):
                found.append(
                    EditableValue(("rules", index, key), f"Regel {rid}: {label}", rule[key], False)
                )
        text_pair(("rules", index, "reason"), f"Regel {rid}: Begründung", rule.get("reason"), True)
        text_pair(
            ("rules", index, "reason_otherwise"),
            f"Regel {rid}: Begründung sonst",
            rule.get("reason_otherwise"),
            True,
        )
    for index, fee in enumerate(data.get("fees") or []):
        if not isinstance(fee, dict):
            continue
        fid = fee.get("id", index)
        text_pair(("fees", index, "label"), f"Gebühr {fid}", fee.get("label"), False)
        amount = fee.get("amount")
        if isinstance(amount, int | float | str) and not isinstance(amount, bool):
            found.append(
                EditableValue(
                    ("fees", index, "amount"),
                    f"Gebühr {fid}: Betrag",
                    str(amount),
                    not isinstance(amount, str),
                )
            )
    for index, document in enumerate(data.get("documents") or []):
        if isinstance(document, dict):
            text_pair(
                ("documents", index, "title"),
                f"Schriftstück {document.get('id', index)}: Titel",
                document.get("title"),
                False,
            )
    return found


@dataclass(frozen=True)
class DiffRow:
    """One difference between two versions, in the words of the definition."""

    section: str
    key: str
    change: str
    """added · removed · changed"""
    before: str
    after: str


_SECTIONS = (
    ("fields", "id"),
    ("rules", "id"),
    ("fees", "id"),
    ("documents", "id"),
    ("writeback", "operation"),
)
_SCALARS = (
    "title", "description", "legal_basis", "trust_level", "valid_from", "valid_until",
    "department", "authority", "automation", "retention", "procedure", "processing", "handover",
)  # fmt: skip


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def version_diff(before_text: str, after_text: str) -> list[DiffRow]:
    """Fields, rules, parameters, fees, documents and texts that differ between two versions."""
    before = load_yaml(before_text) or {}
    after = load_yaml(after_text) or {}
    rows: list[DiffRow] = []
    for key in _SCALARS:
        if before.get(key) != after.get(key):
            rows.append(
                DiffRow(
                    "Allgemein", key, _change(before.get(key), after.get(key)),
                    _shown(before.get(key)), _shown(after.get(key)),
                )
            )  # fmt: skip
    for section, ident in _SECTIONS:
        old = {str(e.get(ident)): e for e in before.get(section) or [] if isinstance(e, dict)}
        new = {str(e.get(ident)): e for e in after.get(section) or [] if isinstance(e, dict)}
        for name in dict.fromkeys([*old, *new]):
            if old.get(name) != new.get(name):
                rows.append(
                    DiffRow(
                        section, name, _change(old.get(name), new.get(name)),
                        _shown(old.get(name)), _shown(new.get(name)),
                    )
                )  # fmt: skip
    old_params = before.get("parameters") or {}
    new_params = after.get("parameters") or {}
    for name in dict.fromkeys([*old_params, *new_params]):
        if old_params.get(name) != new_params.get(name):
            rows.append(
                DiffRow(
                    "parameters", name, _change(old_params.get(name), new_params.get(name)),
                    _shown(old_params.get(name)), _shown(new_params.get(name)),
                )
            )  # fmt: skip
    return rows


def _change(before: Any, after: Any) -> str:
    if before is None:
        return "added"
    if after is None:
        return "removed"
    return "changed"


def text_diff(before_text: str, after_text: str, before_name: str, after_name: str) -> str:
    """The line diff of two versions, for experts reading the code view."""
    return "".join(
        difflib.unified_diff(
            before_text.splitlines(keepends=True),
            after_text.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
        )
    )


# ---------------------------------------------------------------------------------------------
# Drafts


def require(clerk: ClerkIdentity, permission: Permission) -> None:
    """The designer's pages name the role that is missing."""
    if not clerk.can(permission):
        role = "designer" if permission is Permission.DESIGN else "supervisor"
        raise Forbidden(
            f"Dafür brauchen Sie die Rolle „{role}“ in Ihrem Fachbereich. "
            f"(This needs the '{role}' role in your department.)"
        )


def department_services(catalogue: Catalogue, clerk: ClerkIdentity) -> list[ServiceDefinition]:
    """The services the clerk's department owns (their current versions)."""
    return [d for d in catalogue.all() if d.department == clerk.department]


def _own_service(catalogue: Catalogue, clerk: ClerkIdentity, service: str) -> ServiceDefinition:
    if service not in catalogue or catalogue.get(service).department != clerk.department:
        # Another department's service does not exist for this clerk.
        raise NotFound("Diesen Dienst gibt es nicht. (Unknown service.)")
    return catalogue.get(service)


def get_draft(session: Session, clerk: ClerkIdentity, draft_id: str) -> ServiceDraft:
    """A draft of the clerk's department; another department's does not exist for them."""
    draft = session.get(ServiceDraft, draft_id)
    if draft is None or draft.department != clerk.department:
        raise NotFound("Diesen Entwurf gibt es nicht. (Unknown draft.)")
    return draft


def drafts_of(session: Session, clerk: ClerkIdentity) -> list[ServiceDraft]:
    """The department's drafts, newest first, published ones included as the history."""
    return list(
        session.exec(
            select(ServiceDraft)
            .where(ServiceDraft.department == clerk.department)
            .order_by(col(ServiceDraft.updated_at).desc())
            .limit(200)
        ).all()
    )


def next_version(versions: list[str]) -> str:
    """One minor step above the highest version: 1.2.0 → 1.3.0 (the author may change it)."""
    numbers = []
    for version in versions:
        parts = re.findall(r"\d+", version)
        if parts:
            numbers.append(tuple(int(p) for p in parts[:3]) + (0,) * (3 - len(parts[:3])))
    major, minor, _patch = max(numbers, default=(0, 0, 0))
    return f"{major}.{minor + 1}.0"


def start_draft(
    session: Session,
    clerk: ClerkIdentity,
    catalogue: Catalogue,
    service: str,
    from_version: str | None = None,
) -> ServiceDraft:
    """A new draft of a service, starting from the version in force or an older one (rollback)."""
    require(clerk, Permission.DESIGN)
    live = _own_service(catalogue, clerk, service)
    base = from_version or live.version
    versions = [d.version for d in catalogue.versions(service)]
    if base not in versions:
        raise NotFound(f"Version {base} wurde nicht gefunden. (Version {base} not found.)")
    text = version_text(catalogue, service, base)
    text = set_top_level(text, "version", _quoted(next_version(versions)))
    text = set_top_level(text, "valid_from", local_today().isoformat())
    text = set_top_level(text, "valid_until", None)
    tests = catalogue.folder(service) / TESTS_FILE
    draft = ServiceDraft(
        service=service,
        department=clerk.department,
        base_version=base,
        text=text,
        tests_text=tests.read_text(encoding="utf-8") if tests.is_file() else "cases: []\n",
        author=clerk.sub,
        author_name=clerk.name,
    )
    return _stored(session, draft)


def new_service_draft(
    session: Session, clerk: ClerkIdentity, catalogue: Catalogue, slug: str
) -> ServiceDraft:
    """A draft of a new service of the clerk's department, from the scaffold that validates
    and tests green (the same as `knopfdruck services new`)."""
    require(clerk, Permission.DESIGN)
    if slug in catalogue:
        raise InvalidInput(f"„{slug}“ gibt es schon. (Service '{slug}' exists.)")
    try:
        files = scaffold_files(slug)
    except ScaffoldError as exc:
        raise InvalidInput(f"{exc}") from None
    text, tests = files[DEFINITION_FILE], files[TESTS_FILE]
    # The scaffold's example statute and Gemeinde Beispielstadt would be printed on real notices
    # (a remedy naming the wrong authority): in the designer they are TODOs that keep the draft
    # red until the department writes its own legal basis, regime and authority.
    text = _EXAMPLE_LEGAL.sub(lambda m: f'{m.group(1)}"TODO: {_EXAMPLE_HINTS[m.group(2)]}"', text)
    # The new service applies from today; the scaffold's test dates earlier this year move to
    # today, so its cases test the version as it will be published (issue 15, part 2).
    today = local_today()
    text = set_top_level(text, "valid_from", today.isoformat())
    tests = re.sub(
        r"(reference_date: )(\d{4}-\d{2}-\d{2})",
        lambda m: m.group(1) + max(date.fromisoformat(m.group(2)), today).isoformat(),
        tests,
    )
    draft = ServiceDraft(
        service=slug,
        department=clerk.department,
        new_service=True,
        text=set_top_level(text, "department", clerk.department),
        tests_text=tests,
        author=clerk.sub,
        author_name=clerk.name,
    )
    return _stored(session, draft)


def fim_service_draft(
    session: Session,
    clerk: ClerkIdentity,
    catalogue: Catalogue,
    connectors: ConnectorRegistry,
    data: bytes,
    filename: str,
    slug: str = "",
) -> ServiceDraft:
    """A draft of a new service from a FIM XDatenfelder schema (as `services import-fim`): its
    fields and texts, with TODO markers where FIM says nothing; validate refuses it until they
    are filled in, so it cannot be submitted half done."""
    require(clerk, Permission.DESIGN)
    if len(data) > MAX_TEXT_BYTES * 8:
        raise InvalidInput("Die FIM-Datei ist zu groß. (The FIM file is too large.)")
    try:
        document = parse_fim(data, filename or "fim.xml")
        service = slug or slug_for(document.root.name or document.root.label)
        text = to_definition_yaml(
            document, slug=service, source=filename or "fim.xml", connectors=connectors
        )
    except FimImportError as exc:
        raise InvalidInput(f"{exc} (FIM import failed.)") from None
    if service in catalogue:
        raise InvalidInput(f"„{service}“ gibt es schon. (Service '{service}' exists.)")
    draft = ServiceDraft(
        service=service,
        department=clerk.department,
        new_service=True,
        text=set_top_level(
            set_top_level(text, "department", clerk.department),
            "valid_from",
            local_today().isoformat(),
        ),
        tests_text="cases: []\n",
        author=clerk.sub,
        author_name=clerk.name,
    )
    return _stored(session, draft)


_EXAMPLE_LEGAL = re.compile(
    r'^(\s*(legal_basis|regime|name|at|address): )(?:"[^"\n]*Beispiel[^"\n]*"|vwgo_vorverfahren)$',
    re.MULTILINE,
)
_EXAMPLE_HINTS = {
    "legal_basis": "the statute the service rests on",
    "regime": "vwgo_klage (with court) where the Land abolished the Widerspruch, else "
    "vwgo_vorverfahren",
    "name": "the issuing authority",
    "at": "where an objection is lodged, in the dative ('bei der Stadt …')",
    "address": "the authority's address",
}


def _stored(session: Session, draft: ServiceDraft) -> ServiceDraft:
    """Commit one change of a draft and read it back."""
    session.add(draft)
    session.commit()
    session.refresh(draft)
    return draft


def _sha(draft: ServiceDraft) -> str:
    return hashlib.sha256((draft.text + "\0" + draft.tests_text).encode("utf-8")).hexdigest()


def _limit(text: str, what: str) -> None:
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise InvalidInput(
            f"{what} ist größer als {MAX_TEXT_BYTES // 1024} KB. "
            f"({what} exceeds {MAX_TEXT_BYTES // 1024} KB.)"
        )
    if "\x00" in text:
        raise InvalidInput(f"{what} enthält ein Nullzeichen. ({what} contains a NUL.)")


def save_draft(
    session: Session,
    clerk: ClerkIdentity,
    draft: ServiceDraft,
    *,
    text: str | None = None,
    tests_text: str | None = None,
) -> ServiceDraft:
    """Store a changed text of an open draft; the caller checks it right after."""
    require(clerk, Permission.DESIGN)
    if draft.status not in OPEN_STATES:
        raise Conflict(
            "Dieser Entwurf ist in Prüfung oder veröffentlicht und kann nicht mehr geändert "
            "werden. (This draft is in review or published and cannot be changed.)"
        )
    if text is not None:
        _limit(text, "Die Definition")
        draft.text = text.replace("\r\n", "\n")
    if tests_text is not None:
        _limit(tests_text, "Die Testfälle")
        draft.tests_text = tests_text.replace("\r\n", "\n")
    draft.updated_at = utcnow()
    return _stored(session, draft)


def _effective_from(text: str, today: date) -> date:
    """The draft's first day as publishing would set it: its own valid_from, not before today."""
    match = re.search(r"^valid_from:\s*['\"]?(\d{4}-\d{2}-\d{2})", text, re.MULTILINE)
    declared = date.fromisoformat(match.group(1)) if match else today
    return max(declared, today)


def materialize(
    folder: Path, draft: ServiceDraft, valid_from: date
) -> list[tuple[Path, str | None]]:
    """Write the draft into a service folder as publishing does; returns (file, previous text
    or None if new) for every file written, so a refused publication can be undone. A write
    that fails half-way undoes the files already written before it raises.

    An existing service gets ``versions/<valid_from>.yaml`` and its latest version ends the
    day before; a new service gets its folder with the scaffold's template."""
    written: list[tuple[Path, str | None]] = []
    try:
        _materialize(folder, draft, valid_from, written)
    except BaseException:
        undo(written)
        raise
    return written


def _materialize(
    folder: Path, draft: ServiceDraft, valid_from: date, written: list[tuple[Path, str | None]]
) -> None:
    """The writes of materialize, each recorded in ``written`` before it happens."""

    def write(path: Path, text: str) -> None:
        written.append((path, path.read_text(encoding="utf-8") if path.exists() else None))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    text = set_top_level(draft.text, "valid_from", valid_from.isoformat())
    if draft.new_service:
        if (folder / DEFINITION_FILE).exists():
            raise Conflict(f"„{draft.service}“ gibt es schon. (Service exists.)")
        # The notice lists the application as given, so it fits whatever fields the
        # designer adds or removes; the scaffold's names three fields by hand.
        write(folder / "templates" / "bescheid.html", LISTING_NOTICE_TEMPLATE)
        write(folder / DEFINITION_FILE, text)
    else:
        files = definition_files(folder)
        latest_file, latest_from = _latest(files)
        if latest_from is not None and valid_from <= latest_from:
            raise InvalidInput(
                f"Die neue Version muss nach dem {latest_from.isoformat()} beginnen, an dem die "
                f"letzte beginnt. (The new version must start after {latest_from.isoformat()}.)"
            )
        target = folder / VERSIONS_DIR / f"{valid_from.isoformat()}.yaml"
        if target.exists():
            raise Conflict(
                f"Für den {valid_from.isoformat()} gibt es schon eine Version. "
                "(A version starting that day exists.)"
            )
        if latest_file is not None:
            ended = set_top_level(
                latest_file.read_text(encoding="utf-8"),
                "valid_until",
                (valid_from - timedelta(days=1)).isoformat(),
                after="valid_from",
            )
            write(latest_file, ended)
        write(target, text)
    write(folder / TESTS_FILE, draft.tests_text)


def _latest(files: list[Path]) -> tuple[Path | None, date | None]:
    """The definition file that starts last, with its first day."""
    best: tuple[Path | None, date | None] = (None, None)
    for file in files:
        try:
            head = load_yaml(file.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if not isinstance(head, dict):
            continue
        start = head.get("valid_from")
        start = date.fromisoformat(start) if isinstance(start, str) else start
        if isinstance(start, date) and (best[1] is None or start > best[1]):
            best = (file, start)
    return best


def undo(written: list[tuple[Path, str | None]]) -> None:
    """Put files back as they were before a refused publication."""
    for path, previous in reversed(written):
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(previous, encoding="utf-8")


@dataclass(frozen=True)
class CheckSettings:
    """What a check needs from the running platform."""

    settings: Settings
    catalogue: Catalogue
    connectors: ConnectorRegistry


@dataclass(frozen=True)
class Built:
    """A draft built into a temporary services folder as publishing would build it."""

    root: Path
    folder: Path
    problems: list[str]
    """Refusals of publishing or of the loader, with paths relative to the folder's root."""
    catalogue: Catalogue | None
    drafted: ServiceDefinition | None


@contextmanager
def built(env: CheckSettings, draft: ServiceDraft, valid_from: date) -> Iterator[Built]:
    """The service's live folder plus the draft, materialized and loaded in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="kd-designer-") as tmp:
        root = Path(tmp) / "services"
        folder = root / draft.service
        live_folder = env.settings.services_dir / draft.service
        if live_folder.is_dir():
            shutil.copytree(live_folder, folder)
        try:
            materialize(folder, draft, valid_from)
        except (InvalidInput, Conflict) as exc:
            yield Built(root, folder, [exc.message], None, None)
            return
        loaded, problems = load_tree(root, env.connectors)
        if problems:
            shown = [p.replace(root.as_posix() + "/", "") for p in problems]
            yield Built(root, folder, shown, None, None)
            return
        version = str((load_yaml(draft.text) or {}).get("version"))
        drafted = next(
            e.definition
            for e in loaded
            if e.definition.id == draft.service and e.definition.version == version
        )
        yield Built(root, folder, [], Catalogue(loaded), drafted)


def check_draft(
    session: Session, clerk: ClerkIdentity, env: CheckSettings, draft: ServiceDraft
) -> ServiceDraft:
    """Validate, test and weigh the draft exactly as it would be published, and store the result.

    Nothing outside a temporary folder is written except the draft's own check record."""
    valid_from = _effective_from(draft.text, local_today())
    result: dict[str, Any] = {
        "checked_at": utcnow().isoformat(),
        "valid_from": valid_from.isoformat(),
        "problems": [],
        "tests": [],
        "impact": None,
    }
    with built(env, draft, valid_from) as build:
        result["problems"] = build.problems
        if build.catalogue is not None and build.drafted is not None:
            tenant_problems, result["tests"] = _run_tests(
                env, build.catalogue, build.root, draft.service
            )
            result["problems"] = [*build.problems, *tenant_problems]
            if not draft.new_service and build.drafted.processing != "external":
                result["impact"] = _impact(session, clerk, env, draft.service, build.drafted)
    result["ok"] = not result["problems"] and all(t["passed"] for t in result["tests"])
    draft.checks = result
    draft.checked_sha = _sha(draft)
    return _stored(session, draft)


def _run_tests(
    env: CheckSettings, catalogue: Catalogue, root: Path, service: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """The service's integrator tests as `services test` runs them after publication, and
    those of every tenant that activated it against its overlay; plus each overlay the draft
    would break (a template change must not strand a municipality)."""
    problems, tenants = _tenant_activations(env, catalogue, service)
    results = run_service_tests_sync(
        catalogue, env.connectors, [service], _render_check(env.settings, root), tenants=tenants
    )
    relative = root.as_posix() + "/"
    tests = [
        {
            "name": _case_name(result),
            "line": result.case.line,
            "passed": result.passed,
            "outcome": result.outcome,
            "differences": [d.replace(relative, "") for d in result.differences],
        }
        for result in results
    ]
    return problems, tests


def _case_name(result: CaseResult) -> str:
    name = "(unlesbar)" if result.case.name == "(unreadable)" else result.case.name
    return f"[{result.case.tenant}] {name}" if result.case.tenant else name


def _tenant_activations(
    env: CheckSettings, catalogue: Catalogue, service: str
) -> tuple[list[str], dict[str, TenantTests]]:
    """The tenants' overlays of this service checked against the drafted catalogue, and the
    tenants whose tests can run against it."""
    folder = env.settings.tenants_folder()
    tenancy, problems = load_tenants(folder, catalogue.entries(), env.connectors)
    base = folder.parent.as_posix() + "/"
    mine = [
        problem.replace(base, "")
        for problem in problems
        if Path(problem.split(":", 1)[0]).stem == service
    ]
    tenants = {
        tenant_id: TenantTests(
            Catalogue(tenancy.entries(tenant_id)), tenancy.tests_folder(tenant_id)
        )
        for tenant_id in tenancy.tenants
    }
    return mine, tenants


def _render_check(settings: Settings, root: Path) -> Callable[..., list[str]]:
    renderer = NoticeRenderer(root.resolve())

    def check(definition: ServiceDefinition, folder: Path, case: Any) -> list[str]:
        return render_problems(settings, renderer, definition, folder.resolve(), case)

    return check


def _impact(
    session: Session,
    clerk: ClerkIdentity,
    env: CheckSettings,
    service: str,
    drafted: ServiceDefinition,
) -> dict[str, Any]:
    """How the draft would have decided the department's cases of the last 90 days."""
    report = impact.analyse_impact(
        session, clerk, env.catalogue, service, drafted, days=IMPACT_DAYS, now=utcnow()
    )
    return {
        "days": report.days,
        "replayed": report.replayed,
        "changed": len(report.changed),
        "transitions": report.transitions,
        "rules": report.rules,
        "cases": [
            {
                "reference": c.reference,
                "before": c.before_outcome,
                "after": c.after_outcome,
                "rules": c.rules,
            }
            for c in report.changed[:50]
        ],
    }


def checks_current(draft: ServiceDraft) -> bool:
    """Whether the stored check is of exactly the current text."""
    return draft.checked_sha == _sha(draft) and bool(draft.checks)


def submit(session: Session, clerk: ClerkIdentity, draft: ServiceDraft) -> ServiceDraft:
    """Hand a checked, green draft to a supervisor for review."""
    require(clerk, Permission.DESIGN)
    if draft.status not in OPEN_STATES:
        raise Conflict("Der Entwurf ist schon in Prüfung. (The draft is already in review.)")
    if not checks_current(draft) or not draft.checks.get("ok"):
        raise InvalidInput(
            "Nur ein geprüfter Entwurf ohne Fehler und mit grünen Tests kann zur Freigabe. "
            "(Only a checked draft without problems and with passing tests can be submitted.)"
        )
    draft.status = "in_review"
    draft.submitted_at = utcnow()
    draft.review_comment = None
    return _stored(session, draft)


def _reviewer(clerk: ClerkIdentity, draft: ServiceDraft) -> None:
    require(clerk, Permission.PUBLISH_DEFINITIONS)
    if clerk.sub == draft.author:
        raise Forbidden(
            "Vier-Augen-Prinzip: Den eigenen Entwurf gibt eine andere Person frei. "
            "(Four eyes: someone other than the author approves a draft.)"
        )
    if draft.status != "in_review":
        raise Conflict("Der Entwurf wartet nicht auf Freigabe. (The draft is not in review.)")


def return_draft(
    session: Session, clerk: ClerkIdentity, draft: ServiceDraft, comment: str
) -> ServiceDraft:
    """Send a draft back to its author with what to change."""
    _reviewer(clerk, draft)
    if not comment.strip():
        raise InvalidInput(
            "Bitte schreiben Sie, was zu ändern ist. (Say what should change.)",
            details=[{"field": "comment", "message": "required"}],
        )
    draft.status = "returned"
    draft.review_comment = comment.strip()[:2000]
    draft.reviewer, draft.reviewer_name = clerk.sub, clerk.name
    draft.reviewed_at = utcnow()
    return _stored(session, draft)


_publish_lock = threading.Lock()


def publish(
    session: Session,
    clerk: ClerkIdentity,
    env: CheckSettings,
    draft: ServiceDraft,
    valid_from: date,
    comment: str = "",
) -> Catalogue:
    """Approve and publish: write the files, validate the whole tree, record the revision.

    Returns the new catalogue for this process; the others follow the revision."""
    _reviewer(clerk, draft)
    today = local_today()
    if valid_from < today:
        raise InvalidInput(
            "Eine Version gilt frühestens ab heute. (A version applies from today at the "
            "earliest.)",
            details=[{"field": "valid_from", "message": "before today"}],
        )
    services_dir = env.settings.services_dir
    with _publish_lock:
        draft.text = set_top_level(draft.text, "valid_from", valid_from.isoformat())
        checked = check_draft(session, clerk, env, draft)
        if not checked.checks.get("ok"):
            raise InvalidInput(
                "Der Entwurf besteht die Prüfung nicht mehr; er bleibt in Prüfung. "
                "(The draft no longer passes its checks.)",
                details=[{"field": "definition", "message": p} for p in checked.checks["problems"]],
            )
        folder = services_dir / draft.service
        try:
            written = materialize(folder, draft, valid_from)
        except OSError as exc:
            # A read-only services folder (an image without a volume) must not end in a 500.
            _log.error("publishing %s: cannot write the services folder: %s", draft.service, exc)
            raise Conflict(
                "Der Ordner der Dienste ist nicht beschreibbar; bitte den Betrieb informieren "
                "(docs/operations.md). (The services folder is not writable.)"
            ) from None
        loaded, problems = load_tree(services_dir, env.connectors)
        if problems:
            undo(written)
            raise InvalidInput(
                "Die Veröffentlichung wurde zurückgenommen: die Dienste wären ungültig. "
                "(Publication undone: the services would be invalid.)",
                details=[{"field": "definition", "message": p} for p in problems],
            )
        catalogue = Catalogue(loaded)
        version = str((load_yaml(draft.text) or {}).get("version"))
        now = utcnow()
        draft.status = "published"
        draft.valid_from = valid_from
        draft.published_version = version
        draft.published_at = now
        draft.reviewer, draft.reviewer_name = clerk.sub, clerk.name
        draft.reviewed_at = now
        draft.review_comment = comment.strip()[:2000] or None
        session.add(draft)
        session.add(
            CatalogueRevision(
                service=draft.service,
                version=version,
                draft_id=draft.id,
                department=draft.department,
                published_by=clerk.sub,
                published_at=now,
            )
        )
        session.commit()
    _log.warning(
        "service %s version %s published from %s (draft %s)",
        draft.service,
        version,
        valid_from.isoformat(),
        draft.id,
    )
    return catalogue


def discard(session: Session, clerk: ClerkIdentity, draft: ServiceDraft) -> None:
    """Give up an open draft; it stays in the list as discarded."""
    require(clerk, Permission.DESIGN)
    if draft.status not in OPEN_STATES:
        raise Conflict("Nur ein offener Entwurf kann verworfen werden. (Only open drafts.)")
    draft.status = "discarded"
    draft.updated_at = utcnow()
    session.add(draft)
    session.commit()


def _preview_persona(clerk: ClerkIdentity, persona_id: str) -> Persona:
    """Designers and reviewers preview with a citizen persona of the sandbox, never a clerk."""
    if not (clerk.can(Permission.DESIGN) or clerk.can(Permission.PUBLISH_DEFINITIONS)):
        require(clerk, Permission.DESIGN)
    persona = persona_by_id(persona_id)
    if persona is None or persona.is_clerk:
        raise InvalidInput("Bitte eine Testperson wählen. (Choose a test persona.)")
    return persona


def _previewable(build: Built) -> ServiceDefinition:
    """The built draft's definition; an invalid draft has nothing to preview."""
    if build.drafted is None:
        raise InvalidInput(
            "Eine Vorschau gibt es erst für eine gültige Definition. "
            "(A preview needs a valid definition.)",
            details=[{"field": "definition", "message": p} for p in build.problems],
        )
    return build.drafted


def preview_pdf(
    clerk: ClerkIdentity,
    env: CheckSettings,
    draft: ServiceDraft,
    persona_id: str,
    outcome: str,
) -> tuple[bytes, str]:
    """The draft's first document for an outcome, rendered for a sandbox persona as it would
    be issued after publication (stamped VORSCHAU); returns the PDF and a file name."""
    persona = _preview_persona(clerk, persona_id)
    valid_from = _effective_from(draft.text, local_today())
    with built(env, draft, valid_from) as build:
        drafted = _previewable(build)
        documents = [d for d in drafted.documents if outcome in d.on]
        if not documents:
            raise InvalidInput(
                f"Für „{outcome}“ gibt der Dienst kein Schriftstück aus. "
                f"(The service issues no document for '{outcome}'.)"
            )
        case = preview_case(env.connectors, drafted, persona, {}, valid_from)
        try:
            pdf = render_preview(
                env.settings,
                NoticeRenderer(build.root.resolve()),
                build.folder,
                case,
                documents[0].id,
                outcome,
            )
        except RenderError as exc:
            raise InvalidInput(
                f"Das Schriftstück lässt sich nicht erstellen: {exc.message} "
                "(The document cannot be rendered.)"
            ) from None
    return pdf, f"{drafted.id}-{documents[0].id}-{outcome}-{persona.id}-vorschau.pdf"


def form_preview(
    clerk: ClerkIdentity,
    env: CheckSettings,
    draft: ServiceDraft,
    persona_id: str,
    answers: dict[str, str],
) -> DraftState:
    """The citizen's application pages for the draft as a test persona would see them after
    publication: held data from the sandbox registers, and what was typed on earlier preview
    pages. Nothing is stored; the registers' access log is not written for a preview."""
    persona = _preview_persona(clerk, persona_id)
    with built(env, draft, _effective_from(draft.text, local_today())) as build:
        drafted = _previewable(build)
        results = asyncio.run(persona_prefill(env.connectors, drafted, persona))
    known = {f.id for f in drafted.fields}
    application = Application(
        id="vorschau",
        service=drafted.id,
        service_version=drafted.version,
        citizen_sub=persona.sub,
        prefill={k: r.model_dump(mode="json") for k, r in results.items()},
        answers={k: v[:2000] for k, v in answers.items() if k in known},
        disputes={},
    )
    return DraftState(
        definition=drafted,
        application=application_view(drafted, application),
        steps_done=frozenset(),
        uploads=[],
        expires_at=None,
        case_id=None,
    )


@dataclass(frozen=True)
class PreviewVerdict:
    """What the draft's rules decide for a persona's answers in the form preview, exactly as
    the integrator tests decide a case (`run_case`), so a case saved from it passes."""

    outcome: str
    amounts: dict[str, Decimal]
    referral_reasons: list[str]
    problems: list[str]
    """Answers the portal would refuse and required answers missing: the case is no test yet."""
    reasons: list[str]
    """Each rule's reason as the notice would state it, with the rule and its effect."""


_UNKNOWN_OUTCOME = "?"


def preview_verdict(
    clerk: ClerkIdentity,
    env: CheckSettings,
    draft: ServiceDraft,
    persona_id: str,
    answers: dict[str, str],
) -> PreviewVerdict:
    """Decide the persona's preview answers with the draft, as of today in Germany."""
    persona = _preview_persona(clerk, persona_id)
    with built(env, draft, _effective_from(draft.text, local_today())) as build:
        drafted = _previewable(build)
        known = {f.id for f in drafted.fields}
        case = ServiceTestCase(
            service=drafted.id,
            name="Vorschau",
            persona=persona.id,
            answers={k: v for k, v in answers.items() if k in known and v.strip()},
            disputes={},
            remark=None,
            reference_date=local_today(),
            expect=Expectation(outcome=_UNKNOWN_OUTCOME),
            file=Path("vorschau"),
        )

        async def run() -> CaseResult:
            sandbox = SandboxPrefill(env.connectors)
            try:
                return await run_case(drafted, case, sandbox)
            finally:
                await sandbox.aclose()

        result = asyncio.run(run())
    own = f"outcome: expected {_UNKNOWN_OUTCOME}, "
    # run_case explains a difference with every rule's reason, indented; here they are the
    # decision's reasons, not problems.
    reasons = [d.strip() for d in result.differences if d.startswith("  reason ")]
    return PreviewVerdict(
        outcome=result.outcome,
        amounts=dict(result.amounts),
        referral_reasons=list(result.referral_reasons),
        problems=[
            d for d in result.differences if not d.startswith(own) and not d.startswith("  ")
        ],
        reasons=[r.removeprefix("reason ") for r in reasons],
    )


def add_test_case(
    session: Session,
    clerk: ClerkIdentity,
    env: CheckSettings,
    draft: ServiceDraft,
    name: str,
    persona_id: str,
    answers: dict[str, str],
) -> ServiceDraft:
    """Keep a preview as an integrator test case: what the rules decide today becomes its
    expectation, so a later change that decides it differently turns the draft red."""
    title = " ".join(name.split())[:200]
    if not title:
        raise InvalidInput(
            "Bitte dem Testfall einen Namen geben. (Name the test case.)",
            details=[{"field": "name", "message": "missing"}],
        )
    verdict = preview_verdict(clerk, env, draft, persona_id, answers)
    if verdict.problems:
        raise InvalidInput(
            "Mit diesen Angaben ist der Antrag nicht vollständig oder nicht gültig; erst "
            "korrigieren. (The answers are incomplete or invalid.)",
            details=[{"field": "answers", "message": p} for p in verdict.problems],
        )
    expect: dict[str, Any] = {"outcome": verdict.outcome}
    if verdict.amounts:
        expect["amounts"] = {k: float(v) for k, v in sorted(verdict.amounts.items())}
    if verdict.outcome == "referred" and verdict.referral_reasons:
        expect["referral_reasons"] = list(verdict.referral_reasons)
    if title in [str(c.get("name")) for c in _case_items(draft.tests_text)]:
        raise InvalidInput(
            f"Einen Testfall „{title}“ gibt es schon. (A test case of that name exists.)",
            details=[{"field": "name", "message": "exists"}],
        )
    item = {
        "name": title,
        "persona": persona_id,
        "reference_date": local_today(),
        "answers": {k: v for k, v in answers.items() if v.strip()},
        "expect": expect,
    }
    tests = append_item(draft.tests_text, "cases", item, keys=("cases",))
    save_draft(session, clerk, draft, tests_text=tests)
    return check_draft(session, clerk, env, draft)


def _case_items(tests_text: str) -> list[dict[str, Any]]:
    try:
        data = load_yaml(tests_text)
    except yaml.YAMLError:
        return []
    cases = data.get("cases") if isinstance(data, dict) else None
    return [c for c in cases or [] if isinstance(c, dict)]


def draft_outcomes(text: str) -> list[str]:
    """The outcomes the draft issues documents for, for the preview's choice."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError:
        return []
    found: set[str] = set()
    for document in (data.get("documents") or []) if isinstance(data, dict) else []:
        if isinstance(document, dict):
            found |= {str(o) for o in document.get("on") or []}
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# Every process follows publications


def latest_revision(engine: Engine) -> int:
    """The id of the newest publication, 0 before the first."""
    with Session(engine) as session:
        return int(session.exec(select(func.max(CatalogueRevision.id))).one() or 0)


class CatalogueFollower(Poller):
    """Reloads the services folder in this process whenever a publication is recorded."""

    name = "catalogue-follower"

    def __init__(
        self,
        engine: Engine,
        services_dir: Path,
        connectors: ConnectorRegistry,
        apply: Callable[[Catalogue], None],
        *,
        interval_s: float,
    ) -> None:
        super().__init__(interval_s)
        self.engine = engine
        self.services_dir = services_dir
        self.connectors = connectors
        self.apply = apply
        self.seen: int | None = None
        """The newest publication this process has loaded; None until first read."""

    def check(self) -> bool:
        """Reload if a new publication was recorded; True when a catalogue was applied."""
        newest = latest_revision(self.engine)
        if self.seen is None:  # the folder was read at start-up, after this revision
            self.seen = newest
            return False
        if newest == self.seen:
            return False
        loaded, problems = load_tree(self.services_dir, self.connectors)
        if problems:
            # Published files are validated before the revision is written, so this means the
            # folder was changed by hand (or is not shared between machines): keep serving.
            _log.error(
                "published definitions do not load here; keeping the catalogue:\n%s",
                "\n".join(problems),
            )
            return False
        self.apply(Catalogue(loaded))
        self.seen = newest
        _log.warning("service catalogue reloaded after publication %s", newest)
        return True

    def start(self) -> None:
        """Note the newest publication now (the catalogue was just loaded), then poll."""
        try:
            self.check()
        except Exception:  # e.g. a database not migrated yet: the poll reads it later
            _log.exception("catalogue follower: no publication record yet")
        super().start()
