"""The designer's structured forms: a field with its data need, a rule, a fee, a parameter, the
remedy and the automation policy, written into the draft's YAML as a person would write them.

The YAML stays the one truth (issue 15, part 2): every form changes only the lines it is about,
so comments, order and the rest of the text stay as they were, and git shows a readable diff.
What the form builds is checked like any other text afterwards (validate, tests, templates);
the functions here refuse only what they cannot write at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from backend.definitions.checks import FIELD_TYPES_FOR_ATTRIBUTE
from backend.definitions.models.policy import DEFAULT_TRIGGERS
from backend.domain.remedy import Regime
from backend.errors import InvalidInput
from prefill.connectors.registry import ConnectorRegistry

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
LIST_KEYS = ("fields", "rules", "fees")
"""The lists whose items the designer adds and removes."""
FIELD_TYPES = ("string", "text", "integer", "decimal", "date", "boolean", "choice", "email", "iban")
"""What a designer's form offers; file uploads need limits only the code view sets."""
REGIMES: tuple[Regime, ...] = (
    "vwgo_klage",
    "vwgo_vorverfahren",
    "ao_einspruch",
    "sgg_widerspruch",
    "no_administrative_act",
)
TRIGGERS = (
    "disputed_data",
    "remark",
    "registry_failure",
    "held_data_missing",
    "rule_referred",
    "qa_sample",
)
"""Referral triggers a form can switch; thresholds need values and stay in the code view."""
_ATTRIBUTE_FIELD_TYPE = {
    "string": "string",
    "date": "date",
    "integer": "integer",
    "decimal": "decimal",
    "boolean": "boolean",
    "list": "text",
    "object": "text",
}
"""The field type a register attribute is shown with when the designer picks none."""


def compose_text(text: str) -> yaml.Node:
    """The draft's node tree, with the positions every in-place edit needs."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise InvalidInput(
            "Der Entwurf ist kein gültiges YAML; bitte in der Code-Ansicht korrigieren. "
            f"(The draft is not valid YAML: {' '.join(str(exc).split())[:200]})"
        ) from None
    if root is None:
        raise InvalidInput("Der Entwurf ist leer. (The draft is empty.)")
    return root


def _compose(text: str) -> yaml.MappingNode:
    root = compose_text(text)
    if not isinstance(root, yaml.MappingNode):
        raise InvalidInput("Der Entwurf ist keine Dienstdefinition. (Not a service definition.)")
    return root


def _entry(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in mapping.value if getattr(k, "value", None) == key), None)


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) holding the node's own text; comments after it are not its."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1])
    end = node.end_mark
    # A block scalar (| or >) ends at the start of the line after it.
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


def _block(value: Any, indent: str) -> list[str]:
    """Lines of a YAML value as the designer writes it: block style, texts quoted only where
    YAML needs it, short de/en pairs and dated values on one line."""
    dumped = yaml.dump(
        value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    ).splitlines()
    return [f"{indent}{line}" if line else "" for line in dumped]


class _Dumper(yaml.SafeDumper):
    """Safe dumping with flow style for the small mappings people write on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Indent a list under its key, as every definition in services/ does."""
        super().increase_indent(flow, False)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    small = set(data) <= {"de", "en"} or set(data) <= {"valid_from", "value", "legal_reference"}
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=small or None)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    scalars = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=scalars or None)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def _item_lines(item: dict[str, Any], indent: str) -> list[str]:
    """A list item: `- ` before the first line, the rest indented under it."""
    lines = _block(item, "")
    return [f"{indent}- {lines[0]}", *(f"{indent}  {line}" if line else "" for line in lines[1:])]


def _checked(text: str) -> str:
    """The edited text must still be YAML (e.g. no alias left without its anchor)."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        raise InvalidInput(
            "Das geht nur in der Code-Ansicht: andere Stellen verweisen auf diesen Eintrag "
            "(YAML-Anker). (Only in the code view: other entries refer to this one.)"
        ) from None
    return text


def _ids(node: yaml.Node | None) -> list[str]:
    if not isinstance(node, yaml.SequenceNode):
        return []
    found = []
    for item in node.value:
        entry = _entry(item, "id")
        if entry is not None and isinstance(entry[1], yaml.ScalarNode):
            found.append(entry[1].value)
    return found


def list_ids(text: str, key: str) -> list[str]:
    """The ids of a list's items (fields, rules, fees), for the form that removes one."""
    try:
        root = _compose(text)
    except InvalidInput:
        return []
    entry = _entry(root, key)
    return _ids(entry[1] if entry else None)


def append_item(
    text: str, key: str, item: dict[str, Any], *, keys: tuple[str, ...] = LIST_KEYS
) -> str:
    """Add an item at the end of a top-level list, creating the list where there is none
    (``keys``: the lists of this file a form may add to; a test file has `cases`)."""
    if key not in keys:
        raise InvalidInput(f"Unbekannte Liste {key}. (Unknown list.)")
    root = _compose(text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entry = _entry(root, key)
    if entry is not None and item.get("id") in _ids(entry[1]):
        raise InvalidInput(
            f"„{item['id']}“ gibt es in {key} schon. (Id '{item['id']}' exists in {key}.)",
            details=[{"field": "id", "message": "exists"}],
        )
    if entry is None:
        new = ["\n", f"{key}:\n", *(f"{line}\n" for line in _item_lines(item, "  "))]
        return _checked("".join(lines) + "".join(new))
    key_node, value = entry
    block = [
        f"{line}\n"
        for line in _item_lines(item, "  " + _indent_of(lines[key_node.start_mark.line]))
    ]
    if isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
        first = lines[value.value[0].start_mark.line]
        indent = _indent_of(first)
        block = [f"{line}\n" for line in _item_lines(item, indent)]
        at = _last_line(value) + 1
        return _checked("".join(lines[:at] + block + lines[at:]))
    if isinstance(value, yaml.SequenceNode) and value.value:
        raise InvalidInput(
            f"Die Liste {key} steht in einer Zeile; bitte in der Code-Ansicht ergänzen. "
            f"({key} is written inline; edit it in the code view.)"
        )
    # `key: []` or `key:` with nothing: the key line becomes the head of a block list.
    at = key_node.start_mark.line
    head = f"{_indent_of(lines[at])}{key}:\n"
    end = at + 1 if isinstance(value, yaml.ScalarNode) else _last_line(value) + 1
    return _checked("".join([*lines[:at], head, *block, *lines[end:]]))


def remove_item(text: str, key: str, item_id: str) -> str:
    """Remove the item with this id from a top-level list; an emptied list stays as `[]`."""
    root = _compose(text)
    entry = _entry(root, key) if key in LIST_KEYS else None
    if entry is None or item_id not in _ids(entry[1]):
        raise InvalidInput(f"„{item_id}“ gibt es in {key} nicht. (No '{item_id}' in {key}.)")
    key_node, value = entry
    assert isinstance(value, yaml.SequenceNode)
    if value.flow_style:
        raise InvalidInput(
            f"Die Liste {key} steht in einer Zeile; bitte in der Code-Ansicht ändern. "
            f"({key} is written inline; edit it in the code view.)"
        )
    lines = text.splitlines(keepends=True)
    index = _ids(value).index(item_id)
    item = value.value[index]
    start, end = item.start_mark.line, _last_line(item) + 1
    # Comment lines right above an item (after the one before it) are about this item.
    if index > 0:
        while start - 1 > _last_line(value.value[index - 1]) and lines[
            start - 1
        ].lstrip().startswith("#"):
            start -= 1
    kept = lines[:start] + lines[end:]
    if len(value.value) == 1:
        at = key_node.start_mark.line
        kept[at] = f"{_indent_of(lines[at])}{key}: []\n"
    return _checked("".join(kept))


def set_entry(text: str, path: tuple[str, ...], key: str, value: Any) -> str:
    """Set ``key`` of the mapping at ``path`` to a value (None removes it), replacing only its
    lines; a missing mapping is added at the end of the text."""
    root = _compose(text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    mapping: yaml.Node = root
    for depth, step in enumerate(path):
        found = _entry(mapping, step)
        if found is None:
            if value is None:
                return text
            nested: Any = {key: value}
            for name in reversed(path[depth + 1 :]):
                nested = {name: nested}
            indent = "  " * depth
            if depth == 0:
                added = ["\n", *(f"{line}\n" for line in _block({step: nested}, indent))]
                return _checked("".join(lines) + "".join(added))
            at = _last_line(mapping) + 1
            added = [f"{line}\n" for line in _block({step: nested}, indent)]
            return _checked("".join(lines[:at] + added + lines[at:]))
        mapping = found[1]
    if not isinstance(mapping, yaml.MappingNode) or mapping.flow_style:
        raise InvalidInput(
            f"{'.'.join(path)} lässt sich nur in der Code-Ansicht ändern. "
            f"({'.'.join(path)} can only be edited in the code view.)"
        )
    found = _entry(mapping, key)
    if found is None:
        if value is None:
            return text
        at = _last_line(mapping) + 1
        indent = _indent_of(lines[mapping.value[0][0].start_mark.line]) if mapping.value else ""
        added = [f"{line}\n" for line in _block({key: value}, indent)]
        return _checked("".join(lines[:at] + added + lines[at:]))
    key_node, old = found
    indent = _indent_of(lines[key_node.start_mark.line])
    start = key_node.start_mark.line
    empty = isinstance(old, yaml.ScalarNode) and old.value == "" and not old.style
    end = start + 1 if empty else _last_line(old) + 1
    new = [] if value is None else [f"{line}\n" for line in _block({key: value}, indent)]
    return _checked("".join(lines[:start] + new + lines[end:]))


# ---------------------------------------------------------------------------------------------
# What a form posts, turned into the item a person would have written


def _text(form: dict[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _identifier(form: dict[str, str], name: str, what: str) -> str:
    value = _text(form, name)
    if not IDENTIFIER.match(value):
        raise InvalidInput(
            f"{what}: bitte Kleinbuchstaben, Ziffern und _ verwenden, beginnend mit einem "
            f"Buchstaben, z. B. flaeche_qm. ({what}: lower-case letters, digits and _.)",
            details=[{"field": name, "message": "not an identifier"}],
        )
    return value


def _pair(form: dict[str, str], name: str, what: str, *, required: bool = True) -> Any:
    """A German and English text; both are needed, as the portal speaks both."""
    de, en = _text(form, f"{name}_de"), _text(form, f"{name}_en")
    if not de and not en and not required:
        return None
    missing = [lang for lang, value in (("de", de), ("en", en)) if not value]
    if missing:
        raise InvalidInput(
            f"{what}: bitte auf Deutsch und Englisch angeben. ({what}: give it in German "
            "and English.)",
            details=[{"field": f"{name}_{lang}", "message": "missing"} for lang in missing],
        )
    return {"de": de, "en": en}


def _required(form: dict[str, str], name: str, what: str) -> str:
    value = _text(form, name)
    if not value:
        raise InvalidInput(
            f"{what}: bitte angeben. ({what}: required.)",
            details=[{"field": name, "message": "missing"}],
        )
    return value


def _number_or_expression(raw: str) -> float | int | str:
    value = raw.strip().replace(",", ".") if NUMBER.match(raw.strip().replace(",", ".")) else raw
    if NUMBER.match(value):
        return float(value) if "." in value else int(value)
    return raw.strip()


@dataclass(frozen=True)
class RegisterAttribute:
    """One attribute the designer may declare as held data, for the data need's choice."""

    key: str
    """connector.attribute"""
    connector: str
    attribute: str
    title: str
    type: str


def register_attributes(connectors: ConnectorRegistry) -> list[RegisterAttribute]:
    """Every attribute of every registered connector, by register."""
    found: list[RegisterAttribute] = []
    for connector_id in sorted(connectors):
        connector = connectors.get(connector_id)
        title = getattr(connector, "title", connector_id)
        for name, spec in sorted(connector.available_attributes().items()):
            found.append(
                RegisterAttribute(f"{connector_id}.{name}", connector_id, name, title, spec.type)
            )
    return found


def field_item(form: dict[str, str], connectors: ConnectorRegistry) -> dict[str, Any]:
    """A field, asked or held: held data names its register, purpose and legal basis."""
    item: dict[str, Any] = {"id": _identifier(form, "id", "Kennung")}
    source_key = _text(form, "source")
    attribute = None
    if source_key:
        attribute = next((a for a in register_attributes(connectors) if a.key == source_key), None)
        if attribute is None:
            raise InvalidInput(
                "Dieses Register-Merkmal gibt es nicht. (Unknown register attribute.)",
                details=[{"field": "source", "message": "unknown"}],
            )
    kind = _text(form, "type")
    if not kind and attribute is not None:
        kind = _ATTRIBUTE_FIELD_TYPE[attribute.type]
    if kind not in FIELD_TYPES:
        raise InvalidInput(
            "Bitte einen Feldtyp wählen. (Choose a field type.)",
            details=[{"field": "type", "message": "missing"}],
        )
    if attribute is not None and kind not in FIELD_TYPES_FOR_ATTRIBUTE[attribute.type]:
        raise InvalidInput(
            f"Das Register liefert {attribute.type}; ein Feld vom Typ {kind} kann das nicht "
            f"zeigen. (The register delivers {attribute.type}; a {kind} field cannot show it.)",
            details=[{"field": "type", "message": "does not fit the attribute"}],
        )
    item["type"] = kind
    item["label"] = _pair(form, "label", "Beschriftung")
    help_text = _pair(form, "help", "Hilfetext", required=False)
    if help_text:
        item["help"] = help_text
    item["required"] = form.get("required") == "yes"
    if kind == "choice":
        item["options"] = _options(form.get("options", ""))
    for bound in ("min", "max"):
        raw = _text(form, bound).replace(",", ".")
        if raw and kind in ("integer", "decimal"):
            if not NUMBER.match(raw):
                raise InvalidInput(
                    f"„{raw}“ ist keine Zahl. (Not a number.)",
                    details=[{"field": bound, "message": "not a number"}],
                )
            item[bound] = int(raw) if kind == "integer" and "." not in raw else float(raw)
    if attribute is not None:
        item["source"] = {
            "connector": attribute.connector,
            "attribute": attribute.attribute,
            "purpose": _required(form, "purpose", "Zweck des Abrufs"),
            "legal_basis": _required(form, "legal_basis", "Rechtsgrundlage des Abrufs"),
        }
    return item


def _options(raw: str) -> list[dict[str, Any]]:
    """Choice options, one per line: `value | Deutsch | English`."""
    options = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise InvalidInput(
                f"Auswahl, Zeile {number}: bitte „wert | Deutsch | English“. "
                f"(Option line {number}: 'value | German | English'.)",
                details=[{"field": "options", "message": "bad line"}],
            )
        options.append({"value": parts[0], "label": {"de": parts[1], "en": parts[2]}})
    if not options:
        raise InvalidInput(
            "Eine Auswahl braucht Optionen. (A choice needs options.)",
            details=[{"field": "options", "message": "missing"}],
        )
    return options


def rule_item(form: dict[str, str]) -> dict[str, Any]:
    """An eligibility rule (a condition, else reject or refer) or a calculation."""
    kind = _text(form, "kind")
    if kind not in ("eligibility", "calculation"):
        raise InvalidInput(
            "Bitte die Art der Regel wählen. (Choose the kind of rule.)",
            details=[{"field": "kind", "message": "missing"}],
        )
    item: dict[str, Any] = {"id": _identifier(form, "id", "Kennung der Regel"), "kind": kind}
    item["legal_reference"] = _required(form, "legal_reference", "Rechtsgrundlage der Regel")
    if kind == "eligibility":
        item["condition"] = _required(form, "condition", "Bedingung")
        otherwise = _text(form, "otherwise")
        if otherwise not in ("reject", "refer"):
            raise InvalidInput(
                "Bitte wählen, was sonst geschieht. (Choose what happens otherwise.)",
                details=[{"field": "otherwise", "message": "missing"}],
            )
        item["otherwise"] = otherwise
        item["reason"] = _pair(form, "reason", "Begründung")
        item["reason_otherwise"] = _pair(form, "reason_otherwise", "Begründung sonst")
    else:
        item["output"] = _identifier(form, "output", "Name des Betrags")
        item["expression"] = _required(form, "expression", "Berechnung")
        if _text(form, "rounding"):
            item["rounding"] = _text(form, "rounding")
        item["reason"] = _pair(form, "reason", "Begründung")
    return item


def fee_item(form: dict[str, str]) -> dict[str, Any]:
    """A fee: a fixed amount, a parameter (params.x) or a calculated amount (amounts.x)."""
    return {
        "id": _identifier(form, "id", "Kennung der Gebühr"),
        "amount": _number_or_expression(_required(form, "amount", "Betrag")),
        "legal_reference": _required(form, "legal_reference", "Rechtsgrundlage der Gebühr"),
        "label": _pair(form, "label", "Bezeichnung"),
    }


def add_parameter(text: str, name: str, valid_from: date, value: str, legal_reference: str) -> str:
    """A new dated parameter, written as a list so later values can be added below it."""
    if not IDENTIFIER.match(name):
        raise InvalidInput(
            "Name des Parameters: Kleinbuchstaben, Ziffern und _. (Parameter name: lower-case "
            "letters, digits and _.)",
            details=[{"field": "name", "message": "not an identifier"}],
        )
    raw = value.strip().replace(",", ".")
    if not NUMBER.match(raw):
        raise InvalidInput(
            f"„{value}“ ist keine Zahl. (Not a number.)",
            details=[{"field": "value", "message": "not a number"}],
        )
    entry = _entry(_compose(text), "parameters")
    if entry is not None and _entry(entry[1], name) is not None:
        raise InvalidInput(
            f"Den Parameter „{name}“ gibt es schon; unten einen Wert ab einem Tag hinzufügen. "
            f"(Parameter '{name}' exists; add a dated value instead.)",
            details=[{"field": "name", "message": "exists"}],
        )
    dated: dict[str, Any] = {
        "valid_from": valid_from,
        "value": float(raw) if "." in raw else int(raw),
    }
    if legal_reference.strip():
        dated["legal_reference"] = legal_reference.strip()
    return set_entry(text, ("parameters",), name, [dated])


def set_procedure(text: str, form: dict[str, str]) -> str:
    """The remedy the notice names: the regime, the authority and, for a Klage, the court."""
    regime = _text(form, "regime")
    if regime not in REGIMES:
        raise InvalidInput(
            "Bitte das Verfahrensrecht wählen. (Choose the procedural regime.)",
            details=[{"field": "regime", "message": "missing"}],
        )
    procedure: dict[str, Any] = {"regime": regime}
    if _text(form, "procedure_legal_basis"):
        procedure["legal_basis"] = _text(form, "procedure_legal_basis")
    procedure["authority"] = {
        "name": _required(form, "authority_name", "Behörde"),
        "at": _required(form, "authority_at", "Behörde, nach „bei“"),
        "address": _required(form, "authority_address", "Anschrift der Behörde"),
    }
    if any(_text(form, f"court_{k}") for k in ("name", "at", "address")) or regime == "vwgo_klage":
        procedure["court"] = {
            "name": _required(form, "court_name", "Gericht"),
            "at": _required(form, "court_at", "Gericht, nach „bei“"),
            "address": _required(form, "court_address", "Anschrift des Gerichts"),
        }
    text = set_entry(text, (), "procedure", procedure)
    # The letterhead names the same authority as the remedy: without a top-level `authority`
    # a notice would print the platform's default authority above another one's remedy.
    name = procedure["authority"]["name"]
    root = _compose(text)
    if _entry(root, "authority") is not None:
        return set_entry(text, (), "authority", name)
    found = _entry(root, "procedure")
    assert found is not None
    lines = text.splitlines(keepends=True)
    at = _last_line(found[1]) + 1
    added = [f"{line}\n" for line in _block({"authority": name}, "")]
    return _checked("".join(lines[:at] + added + lines[at:]))


def set_automation(
    text: str, legal_basis: str, triggers: list[str], sample_percent: str = ""
) -> str:
    """Whether the machine may decide alone (§ 35a VwVfG needs a legal basis), which situations
    always go to a person, and the share of cases a person checks as a sample."""
    unknown = [t for t in triggers if t not in TRIGGERS]
    if unknown:
        raise InvalidInput(f"Unbekannter Anlass {unknown[0]}. (Unknown trigger.)")
    rate = None
    if "qa_sample" in triggers:
        raw = sample_percent.strip().replace(",", ".").removesuffix("%").strip()
        if not NUMBER.match(raw) or not 0 < float(raw) <= 100:
            raise InvalidInput(
                "Stichprobe: bitte einen Anteil zwischen 0 und 100 Prozent angeben. "
                "(Sample: give a share above 0 and at most 100 per cent.)",
                details=[{"field": "sample_percent", "message": "not a share"}],
            )
        rate = round(float(raw) / 100, 4)
    text = set_entry(text, ("automation",), "legal_basis", legal_basis.strip() or None)
    text = set_entry(
        text, ("automation",), "referral_triggers", [t for t in TRIGGERS if t in triggers]
    )
    return set_entry(text, ("automation",), "qa_sample_rate", rate)


def procedure_values(data: Any) -> dict[str, str]:
    """The remedy form's current values, flat, from the draft's parsed YAML."""
    procedure = data.get("procedure") if isinstance(data, dict) else None
    if not isinstance(procedure, dict):
        return {}
    values = {"regime": str(procedure.get("regime") or "")}
    if procedure.get("legal_basis"):
        values["procedure_legal_basis"] = str(procedure["legal_basis"])
    for body in ("authority", "court"):
        for key in ("name", "at", "address"):
            found = (
                (procedure.get(body) or {}).get(key)
                if isinstance(procedure.get(body), dict)
                else None
            )
            values[f"{body}_{key}"] = str(found) if found else ""
    return values


def automation_values(data: Any) -> dict[str, Any]:
    """The policy form's current values: the legal basis and the switched-on triggers."""
    automation = data.get("automation") if isinstance(data, dict) else None
    if not isinstance(automation, dict):
        automation = {}
    triggers = automation.get("referral_triggers", list(DEFAULT_TRIGGERS))
    rate = automation.get("qa_sample_rate")
    return {
        "legal_basis": str(automation.get("legal_basis") or ""),
        "triggers": [str(t) for t in triggers or []],
        "sample_percent": f"{rate * 100:g}" if isinstance(rate, int | float) and rate else "",
    }
