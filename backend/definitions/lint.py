"""Checks of a definition beyond its own schema: TODO markers, its templates, its reasons.

Kept apart from the loader so the loader stays about reading YAML and locating problems; both
checks return plain messages that the loader places at a file, line and path.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from jinja2 import ChoiceLoader, FileSystemLoader, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from backend.definitions.models import (
    CalculationRule,
    EligibilityRule,
    LocalizedText,
    Rule,
    ServiceDefinition,
    yaml_path,
)

Location = tuple[str | int, ...]

# The renderer's layout (backend/documents/render.py), named here without importing WeasyPrint,
# so that validating stays fast.
SERVICE_TEMPLATES = "templates"
SHARED_TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "documents" / "templates"
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
# What the renderer gives every template besides Jinja's own filters and globals: the filters
# of backend/documents/render.py and the names of backend/notices/content.py:template_context
# (plus the verification link the issuing step adds). Listed here, not imported, because
# definitions sit below documents and notices; tests/unit/test_template_checks.py keeps both
# lists equal to what the renderer really provides.
RENDERER_FILTERS = frozenset({"date_de", "date_iso", "money_de", "iban_groups"})
TEMPLATE_NAMES = frozenset(
    {
        "authority", "remedy", "reference", "issued_on", "title", "addressee", "automated",
        "official", "fields", "answers", "provenance", "source", "decision", "outcome",
        "decision_kind", "service_title", "legal_basis", "submitted_on", "reasons", "amounts",
        "categories", "fees", "levies", "payment", "qr_data_url", "verification_link",
        "verification_url",
    }
)  # fmt: skip
# The Python type a field's value has in a template (notices.content._typed_fields), so that
# `fields.name.vorname` on a string is found here, not by StrictUndefined on a paid case.
_FIELD_VALUE_TYPES: dict[str, type] = {
    "string": str, "text": str, "choice": str, "iban": str, "email": str,
    "date": date, "integer": int, "decimal": Decimal, "boolean": bool,
}  # fmt: skip

_JINJA_GLOBALS = frozenset(ImmutableSandboxedEnvironment().globals)
_IMPLICIT_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})

TODO_MARKER = "TODO"
"""A value starting with this is a gap left for the integrator (scaffold, FIM import)."""


def todo_problems(file: Path, root: yaml.Node) -> list[str]:
    """Every value still starting with TODO: a skeleton must not go live half filled in."""
    problems: list[str] = []
    seen: set[int] = set()

    def walk(node: yaml.Node, at: tuple[str | int, ...]) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.value.lstrip().startswith(TODO_MARKER):
                line = node.start_mark.line + 1
                text = " ".join(node.value.split())
                problems.append(f"{file.as_posix()}:{line} {yaml_path(at)}: unfinished: {text}")
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                walk(value, (*at, name))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*at, index))

    walk(root, ())
    return problems


def template_problems(folder: Path, template: str, definition: ServiceDefinition) -> list[str]:
    """Syntax, missing includes and unknown fields or amounts of one document template.

    Found here, by validate, instead of at the first case whose notice fails to render.
    """
    prefix = f"{SERVICE_TEMPLATES}/"
    if not template.startswith(prefix):
        return [f"templates must live in the folder '{SERVICE_TEMPLATES}/' of the service"]
    templates_dir = folder / SERVICE_TEMPLATES
    environment = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(
            [FileSystemLoader(SHARED_TEMPLATES_DIR), FileSystemLoader(templates_dir)]
        ),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(dict.fromkeys(RENDERER_FILTERS, str))
    fields = {field.id for field in definition.fields}
    kinds: dict[str, str] = {f.id: f.type for f in definition.fields if f.source is None}
    amounts = {
        rule.output for rule in definition.rules if not isinstance(rule, EligibilityRule)
    } | {fee.id for fee in definition.fees}
    known = {"fields": fields, "amounts": amounts}
    problems: list[str] = []
    checked: set[str] = set()
    pending = [template.removeprefix(prefix)]
    while pending:
        name = pending.pop()
        if name in checked:
            continue
        checked.add(name)
        own = templates_dir / name
        if not own.is_file():
            if not (SHARED_TEMPLATES_DIR / name).is_file():
                problems.append(
                    f"template '{name}' (used by {template}) not found in "
                    f"{templates_dir.as_posix()} or the shared templates"
                )
            # The shared layouts are tested with the platform; only service templates are read.
            continue
        where = f"{SERVICE_TEMPLATES}/{name}"
        try:
            source = own.read_text(encoding="utf-8")
            tree = environment.parse(source, name=name)
        except UnicodeDecodeError:
            problems.append(f"{where}: the template is not valid UTF-8")
            continue
        except TemplateSyntaxError as exc:
            problems.append(f"{where}:{exc.lineno}: template syntax error: {exc.message}")
            continue
        pending += _referenced(tree)
        for root, member, line in _member_reads(tree):
            if member not in known[root]:
                listed = ", ".join(sorted(known[root])) or "none"
                problems.append(
                    f"{where}:{line}: unknown {root[:-1]} '{member}' ({root}: {listed})"
                )
        problems += [f"{where}:{line}: {message}" for line, message in _name_problems(tree)]
        problems += [
            f"{where}:{line}: {message}" for line, message in _value_attribute_problems(tree, kinds)
        ]
        try:
            environment.compile(tree, name=name)
        except TemplateSyntaxError as exc:  # unknown filters and tests are found when compiling
            problems.append(f"{where}:{exc.lineno}: {exc.message}")
    return problems


def _name_problems(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    """Every top-level name the template reads that the renderer does not give it."""
    # Jinja's own meta.find_undeclared_variables misses names set or imported at the top of
    # a child template and read in its blocks; any definition anywhere in the file counts here.
    defined = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    defined |= {macro.name for macro in tree.find_all(nodes.Macro)}
    defined |= {i.target for i in tree.find_all(nodes.Import)}
    for imported in tree.find_all(nodes.FromImport):
        defined |= {n[1] if isinstance(n, tuple) else n for n in imported.names}
    read = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    undeclared = read - defined - TEMPLATE_NAMES - _JINJA_GLOBALS - _IMPLICIT_NAMES
    for name in sorted(undeclared):
        line = next(n.lineno for n in tree.find_all(nodes.Name) if n.name == name)
        yield (
            line,
            f"unknown name '{name}': a template reads fields.<id>, amounts.<id> and "
            + ("the notice's own names (docs/integrators.md, 'The notice')"),
        )


def _value_attribute_problems(
    tree: nodes.Template, kinds: dict[str, str]
) -> Iterator[tuple[int, str]]:
    """`fields.x.y` where x is a plain value that has no attribute y (a string has no 'strasse')."""
    for attribute in tree.find_all(nodes.Getattr):
        inner = attribute.node
        if not (
            isinstance(inner, nodes.Getattr)
            and isinstance(inner.node, nodes.Name)
            and inner.node.name == "fields"
        ):
            continue
        value_type = _FIELD_VALUE_TYPES.get(kinds.get(inner.attr, ""))
        if value_type is not None and not hasattr(value_type, attribute.attr):
            yield (
                attribute.lineno,
                f"field '{inner.attr}' is a {kinds[inner.attr]} value; it has no attribute "
                f"'{attribute.attr}'",
            )


def _referenced(tree: nodes.Template) -> list[str]:
    """Names of templates this one extends, includes or imports, where they are constants."""
    found: list[str] = []
    for kind in (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport):
        for node in tree.find_all(kind):
            target = getattr(node, "template", None)
            if isinstance(target, nodes.Const) and isinstance(target.value, str):
                found.append(target.value)
    return found


def _member_reads(tree: nodes.Template) -> Iterator[tuple[str, str, int]]:
    """Every ``fields.x`` / ``fields["x"]`` and ``amounts.x`` read, with its line."""
    for attribute in tree.find_all(nodes.Getattr):
        base = attribute.node
        if (
            isinstance(base, nodes.Name)
            and base.name in ("fields", "amounts")
            and attribute.attr not in _MAPPING_METHODS
        ):
            yield base.name, attribute.attr, attribute.lineno
    for item in tree.find_all(nodes.Getitem):
        base = item.node
        key = item.arg
        if (
            isinstance(base, nodes.Name)
            and base.name in ("fields", "amounts")
            and isinstance(key, nodes.Const)
            and isinstance(key.value, str)
        ):
            yield base.name, key.value, item.lineno


def range_warnings(definition: ServiceDefinition) -> Iterator[tuple[Location, str]]:
    """Warnings: a number or date the citizen types with no range. Not an error, since the
    rules may decide any value; but "-1 dogs" and "a start in 2027" went through unbounded
    (issue 21), and a typo is best refused while the citizen can still correct it."""
    for index, field in enumerate(definition.fields):
        if field.source is not None:
            continue  # a register's value is confirmed, not typed; typed only when it fails
        if field.type in ("integer", "decimal") and field.lowest is None and field.highest is None:
            yield (
                ("fields", index, "type"),
                f"warning: field '{field.id}' takes any number; declare min and max (or "
                "coordinate) for the values it can really have",
            )
        if field.type == "date" and field.not_before is None and field.not_after is None:
            yield (
                ("fields", index, "type"),
                f"warning: field '{field.id}' takes any day; declare not_before and not_after, "
                "e.g. not_after: today for a day that has passed",
            )


# Words of a rule check, not of a reason: a notice says why, in the citizen's terms, and does
# not report that a check passed (issue 20: "Die Steuerklasse steht fest.", "… ist plausibel.").
_RULE_CHECK_PROSE: dict[str, tuple[str, ...]] = {
    "de": (
        "steht fest",
        "ist plausibel",
        "nicht plausibel",
        "bedingung erfüllt",
        "prüfung bestanden",
    ),
    "en": ("is clear", "is plausible", "not plausible", "condition is met", "check passed"),
}


def _reason_texts(rule: Rule) -> Iterator[tuple[tuple[str | int, ...], LocalizedText]]:
    """Every reason text a rule can state, with where it sits in the rule."""
    if isinstance(rule, EligibilityRule):
        yield ("reason",), rule.reason
        yield ("reason_otherwise",), rule.reason_otherwise
    elif isinstance(rule, CalculationRule):
        yield ("reason",), rule.reason
    else:
        for index, row in enumerate(rule.rows):
            yield ("rows", index, "reason"), row.reason
        yield ("reason_otherwise",), rule.reason_otherwise


def reason_problems(
    definition: ServiceDefinition,
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Reasons are printed in notices: sentences a citizen understands in both languages.

    The schema already demands a German and an English text and the rule's legal reference;
    this refuses what a schema cannot see: rule-check prose, and a rule that states the same
    reason whether its condition holds or not.
    """
    for index, rule in enumerate(definition.rules):
        for at, text in _reason_texts(rule):
            where = ("rules", index, *at)
            for lang in ("de", "en"):
                lowered = text.get(lang).lower()
                for phrase in _RULE_CHECK_PROSE[lang]:
                    if phrase in lowered:
                        yield (
                            (*where, lang),
                            f"'{phrase}' reports a rule check; say why, in the citizen's terms "
                            "(what the register or the applicant's answer shows and what follows)",
                        )
        if isinstance(rule, EligibilityRule) and rule.reason.de.strip() == (
            rule.reason_otherwise.de.strip()
        ):
            yield (
                ("rules", index, "reason_otherwise"),
                "the rule states the same reason whether its condition holds or not",
            )
