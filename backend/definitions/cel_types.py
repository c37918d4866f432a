"""Static types of the rule language, so a rule that cannot run fails `validate`, not a case.

The rules run on the `common-expression-language` interpreter, which has no type checker.
The checker here is cel-cpp's, through `cel-expr-python` (the CEL project's own Python
runtime): every expression is compiled against declarations derived from the definition, the
way CEL is meant to be used, and refused with CEL's own message when it does not type-check.
Why two libraries: the checker is only needed at validate time, and evaluation stays on the
interpreter whose speed `benchmarks/` measures; both implement the same CEL specification, and
the declarations below are exactly the values `backend/rules/evaluate.py` passes at runtime.

Declarations (the runtime conversion is `backend.rules.evaluate.typed_fields`):

- ``fields``: one typed member per field. string, text, choice, iban, email and date are
  ``string`` (dates as ISO strings); integer is ``int``; decimal is ``double``; boolean is
  ``bool``; a file, and a field filled from a register attribute of type ``list`` or
  ``object``, is a list, map or dyn value. ``has(fields.x)`` tests whether a value was given.
- ``params``: each parameter with the type of its values (numbers with a fraction or a
  decimal point are ``double``).
- ``amounts``: calculation outputs and fees are ``double``; a decision table's output is
  ``string`` when all its values are strings (a category), otherwise ``double``.
- ``reference_date``: ``string``; write-back records may also read ``reference`` (string).
- the functions of ``backend.domain.cel.FUNCTIONS`` with their signatures below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from cel_expr_python import cel as celcpp
from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2

from backend.definitions.models import (
    CalculationRule,
    DecisionTableRule,
    ServiceDefinition,
)
from backend.domain.cel import FUNCTIONS, literal_division_by_zero
from prefill.connectors.registry import ConnectorRegistry, UnknownConnector

Expected = Literal["bool", "number", "any"]

_PROTO = descriptor_pb2.FieldDescriptorProto
_SCALAR = {
    "string": _PROTO.TYPE_STRING,
    "int": _PROTO.TYPE_INT64,
    "double": _PROTO.TYPE_DOUBLE,
    "bool": _PROTO.TYPE_BOOL,
}
# Dynamic values use the well-known JSON types, which CEL reads as list(dyn), map(string, dyn)
# and dyn.
_DYNAMIC = {
    "list": ".google.protobuf.ListValue",
    "map": ".google.protobuf.Struct",
    "dyn": ".google.protobuf.Value",
}
_FIELD_TYPES = {
    "string": "string",
    "text": "string",
    "choice": "string",
    "iban": "string",
    "email": "string",
    "date": "string",
    "integer": "int",
    "decimal": "double",
    "boolean": "bool",
    "file": "dyn",
}
_ATTRIBUTE_TYPES = {"list": "list", "object": "map"}

# Signatures of our own functions (backend.domain.cel.FUNCTIONS), as CEL overloads.
_FUNCTION_SIGNATURES: dict[str, list[tuple[str, str, list[str]]]] = {
    "age_on": [("age_on_string_string", "int", ["string", "string"])],
    "days_between": [("days_between_string_string", "int", ["string", "string"])],
    "add_days": [("add_days_string_int", "string", ["string", "int"])],
    "add_months": [("add_months_string_int", "string", ["string", "int"])],
    "start_of_month": [("start_of_month_string", "string", ["string"])],
    "end_of_month": [("end_of_month_string", "string", ["string"])],
}

_PACKAGE = "knopfdruck.rules"


@dataclass(frozen=True)
class Declarations:
    """The members each root offers, with their CEL type names, for one definition."""

    fields: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, str], ...]
    amounts: tuple[tuple[str, str], ...]
    extra: tuple[tuple[str, str], ...] = ()


def declarations(
    definition: ServiceDefinition,
    connectors: ConnectorRegistry | None = None,
    *,
    extra: Iterable[tuple[str, str]] = (),
) -> Declarations:
    """What the rules of a definition may read, and as which type."""
    fields = tuple((field.id, _field_type(field, connectors)) for field in definition.fields)
    params = tuple(
        (name, _value_type(values[0].value))
        for name, values in definition.parameters.items()
        if values
    )
    amounts: list[tuple[str, str]] = []
    for rule in definition.rules:
        if isinstance(rule, CalculationRule):
            amounts.append((rule.output, "double"))
        elif isinstance(rule, DecisionTableRule):
            values = [row.value for row in rule.rows] + [rule.otherwise]
            category = all(isinstance(v, str) for v in values)
            amounts.append((rule.output, "string" if category else "double"))
    amounts.extend((fee.id, "double") for fee in definition.fees)
    return Declarations(fields, params, tuple(dict(amounts).items()), tuple(extra))


def _field_type(field: Any, connectors: ConnectorRegistry | None) -> str:
    """A field's CEL type: a list or record from a register is what the register delivers."""
    if field.source is not None and connectors is not None:
        try:
            spec = (
                connectors.get(field.source.connector)
                .available_attributes()
                .get(field.source.attribute)
            )
        except UnknownConnector:
            spec = None
        if spec is not None and spec.type in _ATTRIBUTE_TYPES:
            return _ATTRIBUTE_TYPES[spec.type]
    return _FIELD_TYPES.get(field.type, "dyn")


def _value_type(value: Any) -> str:
    """A parameter value's CEL type, as `_to_cel` passes it at runtime."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float | Decimal):
        return "double"
    if isinstance(value, str):
        return "string"
    return "dyn"


@lru_cache(maxsize=128)
def _environment(found: Declarations) -> Any:
    """One cel-cpp environment per set of declarations; building it costs a few ms."""
    file = descriptor_pb2.FileDescriptorProto(
        name="knopfdruck_rules.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=["google/protobuf/struct.proto"],
    )
    variables: dict[str, Any] = {"reference_date": celcpp.Type.STRING}
    for root, members in (
        ("Fields", found.fields),
        ("Params", found.params),
        ("Amounts", found.amounts),
    ):
        message = file.message_type.add(name=root)
        for number, (name, kind) in enumerate(members, start=1):
            member = message.field.add(name=name, number=number, label=_PROTO.LABEL_OPTIONAL)
            if kind in _SCALAR:
                # proto3 "optional" gives presence, so has(fields.x) means "a value was given".
                member.type = _SCALAR[kind]
                member.proto3_optional = True
                member.oneof_index = len(message.oneof_decl)
                message.oneof_decl.add(name=f"_{name}")
            else:
                member.type = _PROTO.TYPE_MESSAGE
                member.type_name = _DYNAMIC[kind]
        variables[root.lower()] = celcpp.Type(f"{_PACKAGE}.{root}")
    for name, kind in found.extra:
        variables[name] = getattr(celcpp.Type, kind.upper())
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    functions = [
        celcpp.FunctionDecl(
            name,
            [
                celcpp.Overload(
                    overload,
                    getattr(celcpp.Type, result.upper()),
                    [getattr(celcpp.Type, p.upper()) for p in parameters],
                )
                for overload, result, parameters in _FUNCTION_SIGNATURES[name]
            ],
        )
        for name in FUNCTIONS
    ]
    return celcpp.NewEnv(pool, variables=variables, functions=functions)


_OPERATORS = {
    "_>_": ">", "_<_": "<", "_>=_": ">=", "_<=_": "<=", "_==_": "==", "_!=_": "!=",
    "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "_&&_": "&&", "_||_": "||",
    "_?_:_": "?:", "!_": "!", "-_": "unary -", "_[_]": "[]", "@in": "in",
}  # fmt: skip
_NUMERIC_MIX = re.compile(r"\((?:.*\b(?:int|uint)\b.*\bdouble\b|.*\bdouble\b.*\b(?:int|uint)\b)")


def type_problem(found: Declarations, source: str, expected: Expected) -> str | None:
    """The one-line reason an expression does not type-check or yields the wrong type, if any."""
    zero = literal_division_by_zero(source)
    if zero is not None:
        return zero
    try:
        compiled = _environment(found).compile(source)
    except RuntimeError as exc:
        return _first_type_error(str(exc))
    result = compiled.return_type().name().lower()
    if expected == "bool" and result not in ("bool", "dyn"):
        return f"a condition must be a bool, but this is {_article(result)}"
    if expected == "number" and result not in ("int", "double", "dyn"):
        return f"an amount must be a number (int or double), but this is {_article(result)}"
    return None


def _article(type_name: str) -> str:
    """A CEL type in the words of a sentence."""
    return f"an {type_name}" if type_name[:1] in "aeiou" else f"a {type_name}"


def _first_type_error(text: str) -> str:
    """Reduce cel-cpp's report to its first finding, with position and a hint where one helps."""
    match = re.search(r"<input>:(\d+):(\d+): ([^\n]*)", text)
    if match is None:
        return "type error: " + " ".join(text.split())[:300]
    line, column, problem = match.groups()
    for name, shown in _OPERATORS.items():
        problem = problem.replace(f"'{name}'", f"'{shown}'")
    problem = problem.replace(f"{_PACKAGE}.", "")
    if "no matching overload" in problem and _NUMERIC_MIX.search(problem):
        problem += (
            "; CEL does not mix int and double: write 1 for an int or 1.0 for a double, "
            "or convert with double(x) or int(x)"
        )
    return f"type error at {line}:{column}: {problem}"
