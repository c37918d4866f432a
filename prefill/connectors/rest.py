"""The generic REST/JSON connector: a registry added by configuration, without Python.

An integrator describes the request (method, path, query, body as templates) and where each
attribute sits in the JSON answer (a path such as ``person.anschrift.plz`` or
``kinder[0].vornamen``). `rest_connector` turns that description into a connector class that
the registry, the definition loader and prefill treat like any shipped one.
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from prefill.connectors.base import (
    NOT_HELD,
    AttributeSpec,
    AttributeType,
    NeedResult,
    Provenance,
    RegistryQuery,
    TrustLevel,
)
from prefill.connectors.http import (
    HttpReadConnector,
    RegistryRequest,
    all_results,
    parse_as_of,
    typed,
)

logger = logging.getLogger(__name__)

ConnectorId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
AttributeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]

_PATH_STEP = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["([^"\]]+)"\]')
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
ATTRIBUTES_PLACEHOLDER = "{attributes}"


class JsonPathError(ValueError):
    """A path into the JSON answer that cannot be read."""


def parse_json_path(path: str) -> tuple[str | int, ...]:
    """``$.a.b[0]["c.d"]`` → ("a", "b", 0, "c.d"); the leading ``$`` is optional."""
    rest = path.strip()
    if rest.startswith("$"):
        rest = rest[1:]
    steps: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _PATH_STEP.match(rest, position)
        if match is None or match.end() == position:
            raise JsonPathError(f"cannot read path {path!r} at {rest[position:]!r}")
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (name or quoted))
        position = match.end()
    if not steps:
        raise JsonPathError(f"path {path!r} names nothing")
    return tuple(steps)


_MISSING = object()


def read_json_path(document: object, steps: tuple[str | int, ...]) -> object:
    """The value at the path, or `_MISSING` when the document has nothing there."""
    current = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return _MISSING
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                return _MISSING
            current = current[step]
    return current


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RestRequest(_Strict):
    """What one read sends. Placeholders: {identifier}, {attributes} (the list of requested
    attributes' request names, as a whole JSON value) and {key:<attribute>} for keyed_by."""

    method: Literal["GET", "POST"] = Field(
        "POST", description="POST keeps identifiers out of URLs and server logs; prefer it."
    )
    path: str = Field(description="Path below the base URL; placeholders are URL-encoded.")
    query: dict[str, str] = Field(default_factory=dict, description="Query parameters.")
    body: Any = Field(None, description="JSON body template (POST only).")

    @model_validator(mode="after")
    def _body_only_with_post(self) -> RestRequest:
        if self.body is not None and self.method == "GET":
            raise ValueError("a GET request cannot have a body")
        if not self.path.startswith("/"):
            raise ValueError("path must start with '/'")
        return self


class RestNotFound(_Strict):
    """How the registry says "I do not know this person" (results: empty, not failed)."""

    status: int = Field(404, ge=200, le=499)
    path: str | None = Field(None, description="Path to an error code in the answer.")
    equals: str | None = Field(None, description="The error code that means 'unknown person'.")

    @model_validator(mode="after")
    def _path_and_code(self) -> RestNotFound:
        if (self.path is None) != (self.equals is None):
            raise ValueError("give both path and equals, or neither")
        if self.path is not None:
            parse_json_path(self.path)
        return self


class RestResponse(_Strict):
    """Where record id, as-of time and authority sit in the answer (all optional)."""

    record_id: str | None = Field(None, description="Path to the record id.")
    as_of: str | None = Field(
        None, description="Path to an ISO time with zone; absent: the time of the read."
    )
    authority: str | None = Field(None, description="Path to the authority's name.")
    not_found: RestNotFound | None = Field(
        None, description="Absent: every 404 is a failure (a wrong URL must not look empty)."
    )

    @field_validator("record_id", "as_of", "authority")
    @classmethod
    def _readable(cls, path: str | None) -> str | None:
        if path is not None:
            parse_json_path(path)
        return path


class RestAttribute(_Strict):
    """One attribute: its name for service definitions and where its value is."""

    name: AttributeName
    type: AttributeType
    path: str = Field(description="Path to the value in the answer.")
    description: str = ""
    request_name: str | None = Field(
        None, description="Name sent in {attributes}; default: the attribute's name."
    )
    missing: Literal["failed", "empty"] = Field(
        "failed",
        description="Result when the path is absent. 'failed' catches mapping errors; "
        "'empty' suits APIs that leave out what they do not hold.",
    )

    @field_validator("path")
    @classmethod
    def _readable(cls, path: str) -> str:
        parse_json_path(path)
        return path


class KeyedBy(_Strict):
    """A held attribute the registry is looked up with, e.g. the Melderegister's postcode."""

    connector: str
    attribute: str


class RestDefinition(_Strict):
    """Everything about a generic REST registry except its id and its deployment config."""

    title: Annotated[str, StringConstraints(min_length=1)]
    identifier: str = Field(
        "idnr", description="Login claim the registry is keyed by (ignored with keyed_by)."
    )
    keyed_by: list[KeyedBy] = Field(default_factory=list)
    min_trust_level: TrustLevel = "substanziell"
    request: RestRequest
    response: RestResponse = Field(default_factory=RestResponse)
    attributes: list[RestAttribute] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RestDefinition:
        names = [a.name for a in self.attributes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"attribute(s) listed twice: {', '.join(duplicates)}")
        keys = {f"key:{k.attribute}" for k in self.keyed_by}
        allowed = {"identifier", "attributes", *keys}
        for where, template in self._templates():
            for name in _PLACEHOLDER.findall(template):
                if name not in allowed:
                    hint = ", ".join("{" + a + "}" for a in sorted(allowed))
                    raise ValueError(f"unknown placeholder {{{name}}} in {where} (allowed: {hint})")
        if ATTRIBUTES_PLACEHOLDER in self.request.path:
            raise ValueError("{attributes} can only be a whole value in query or body")
        return self

    def _templates(self) -> list[tuple[str, str]]:
        found = [("request.path", self.request.path)]
        found += [(f"request.query.{k}", v) for k, v in self.request.query.items()]

        def walk(node: Any, where: str) -> None:
            if isinstance(node, str):
                found.append((where, node))
            elif isinstance(node, list):
                for index, item in enumerate(node):
                    walk(item, f"{where}[{index}]")
            elif isinstance(node, dict):
                for key, item in node.items():
                    walk(item, f"{where}.{key}")

        walk(self.request.body, "request.body")
        return found


def _fill(template: str, values: dict[str, str], *, url: bool) -> str:
    def one(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return quote(value, safe="") if url else value

    return _PLACEHOLDER.sub(one, template)


class RestConnector(HttpReadConnector):
    """Reads a registry as its configuration describes; see `rest_connector`."""

    definition: ClassVar[RestDefinition]

    @classmethod
    def available_attributes(cls) -> dict[str, AttributeSpec]:
        return {
            a.name: AttributeSpec(name=a.name, type=a.type, description=a.description)
            for a in cls.definition.attributes
        }

    def build_request(self, query: RegistryQuery, attributes: list[str]) -> RegistryRequest:
        by_name = {a.name: a for a in self.definition.attributes}
        requested = [by_name[name].request_name or name for name in attributes]
        values = {"identifier": query.identifier}
        values.update({f"key:{k}": v for k, v in query.identifier_parts.items()})

        def body(node: Any) -> Any:
            if node == ATTRIBUTES_PLACEHOLDER:
                return requested
            if isinstance(node, str):
                return _fill(node, values, url=False)
            if isinstance(node, list):
                return [body(item) for item in node]
            if isinstance(node, dict):
                return {key: body(item) for key, item in node.items()}
            return node

        request = self.definition.request
        return RegistryRequest(
            method=request.method,
            path=_fill(request.path, values, url=True),
            params={
                k: ",".join(requested)
                if v == ATTRIBUTES_PLACEHOLDER
                else _fill(v, values, url=False)
                for k, v in request.query.items()
            },
            json=body(request.body),
        )

    def interpret(
        self, response: httpx.Response, query: RegistryQuery, attributes: list[str]
    ) -> dict[str, NeedResult]:
        spec = self.definition.response
        document: object = _MISSING
        with contextlib.suppress(ValueError):
            document = response.json()
        not_found = spec.not_found
        if not_found is not None and response.status_code == not_found.status:
            code = (
                read_json_path(document, parse_json_path(not_found.path))
                if not_found.path is not None
                else None
            )
            if not_found.path is None or code == not_found.equals:
                return all_results(attributes, "empty", "person not registered")
        if response.status_code == 404:
            return all_results(attributes, "failed", "registry endpoint not found (HTTP 404)")
        if not 200 <= response.status_code < 300:
            return all_results(
                attributes, "failed", f"registry rejected the request (HTTP {response.status_code})"
            )
        if document is _MISSING:
            logger.warning("%s sent a malformed response", self.title)
            return all_results(attributes, "failed", "malformed response")
        try:
            provenance = self._provenance(document)
        except (TypeError, ValueError):
            logger.warning("%s sent a malformed record header", self.title)
            return all_results(attributes, "failed", "malformed response")
        by_name = {a.name: a for a in self.definition.attributes}
        return {name: self._result(by_name[name], document, provenance) for name in attributes}

    def _provenance(self, document: object) -> Provenance:
        spec = self.definition.response

        def at(path: str | None) -> object:
            return None if path is None else read_json_path(document, parse_json_path(path))

        record_id = at(spec.record_id)
        authority = at(spec.authority)
        as_of_raw = at(spec.as_of)
        # Without an as-of time in the answer the honest statement is "as of this read".
        as_of = datetime.now(UTC) if spec.as_of is None else parse_as_of(as_of_raw)
        return Provenance(
            registry=self.id,
            registry_title=f"{self.title} ({authority})"
            if isinstance(authority, str)
            else self.title,
            record_id=str(record_id) if isinstance(record_id, str | int) else None,
            as_of=as_of,
        )

    def _result(
        self, attribute: RestAttribute, document: object, provenance: Provenance
    ) -> NeedResult:
        raw = read_json_path(document, parse_json_path(attribute.path))
        name = attribute.name
        if raw is _MISSING:
            if attribute.missing == "empty":
                return NeedResult(attribute=name, status="empty", reason=NOT_HELD)
            return NeedResult(
                attribute=name, status="failed", reason="attribute missing from response"
            )
        if raw is None:
            return NeedResult(attribute=name, status="empty", reason=NOT_HELD)
        try:
            value = typed(raw, attribute.type)
        except (TypeError, ValueError):
            return NeedResult(attribute=name, status="failed", reason="malformed value in response")
        return NeedResult(
            attribute=name, status="ok", value=value, provenance=provenance.model_copy()
        )


def rest_connector(connector_id: str, definition: RestDefinition) -> type[RestConnector]:
    """A connector class for one configured registry, registered like a shipped one."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,62}", connector_id):
        raise ValueError(
            f"connector id {connector_id!r}: lower-case letters, digits and '-', 2 to 63 long"
        )
    namespace: dict[str, Any] = {
        "id": connector_id,
        "title": definition.title,
        "identifier": definition.identifier if not definition.keyed_by else "keyed_by",
        "min_trust_level": definition.min_trust_level,
        "keyed_by": tuple((k.connector, k.attribute) for k in definition.keyed_by),
        "definition": definition,
        "__doc__": f"Configured REST connector for {definition.title}.",
        "__module__": __name__,
    }
    class_name = "Rest_" + connector_id.replace("-", "_")
    return type(class_name, (RestConnector,), namespace)
