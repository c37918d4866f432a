"""The read protocol the shipped registries share: one POST per read, attributes by name.

Request: ``POST <base>/<registry>/v1/<resource>/abfrage`` with ``{"idnr": ..., "attribute":
[...]}`` (or another key, see `lookup_key`) and the purpose headers. Answer: ``{"record_id",
"stand", "behoerde", "attribute": {name: value or null}, "hinweise": {name: code}}``. A null
value means the registry holds nothing; a hint explains a null that means something else (a
value withheld under § 51 BMG, a question with more than one answer). 404 with the register's
own "unknown" code means the register does not know the person.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ValidationError

from prefill.connectors.base import (
    NOT_HELD,
    AttributeSpec,
    NeedResult,
    Provenance,
    RegistryQuery,
)
from prefill.connectors.http import (
    HttpReadConnector,
    RegistryRequest,
    all_results,
    error_code,
    typed,
)

logger = logging.getLogger(__name__)

HINTS: dict[str, tuple[Literal["empty", "failed"], str]] = {
    # § 51 BMG: a blocked record is not disclosed to an automated read; a person must look.
    "auskunftssperre": ("failed", "withheld by the registry (Auskunftssperre, § 51 BMG)"),
    "mehrdeutig": ("empty", "the registry holds more than one value; please enter it"),
}
"""What a registry's hint for a null value means: status and reason of the result."""

BLOCK_HINTS = frozenset({"auskunftssperre", "auskunftssperre_eigene"})
"""Hints that mark a value under an information block (§ 51 BMG), withheld or released to the
person herself: the result says so (NeedResult.blocked), so nobody reads it as an outage."""


class AbfrageAntwort(BaseModel):
    """The shape of a successful answer; anything else is a malformed response."""

    record_id: str | None = None
    stand: datetime
    behoerde: str
    attribute: dict[str, Any]
    hinweise: dict[str, str] = {}


class AbfrageConnector(HttpReadConnector):
    """A registry that speaks the shared read protocol; subclasses declare path and attributes."""

    path: ClassVar[str]
    unknown_codes: ClassVar[frozenset[str]] = frozenset({"person_unbekannt"})
    """Error codes of a 404 that mean "the register does not know this person"."""
    unknown_result: ClassVar[tuple[Literal["empty", "failed"], str]] = (
        "empty",
        "person not registered",
    )
    """What such a 404 means for every requested attribute."""

    def lookup_key(self, query: RegistryQuery) -> dict[str, Any]:
        """What identifies the person in the request body; most registers use the tax id."""
        return {"idnr": query.identifier}

    def build_request(self, query: RegistryQuery, attributes: list[str]) -> RegistryRequest:
        # POST, not GET: identifiers are personal data and must not appear in URLs or logs.
        return RegistryRequest(
            method="POST", path=self.path, json={**self.lookup_key(query), "attribute": attributes}
        )

    def interpret(
        self, response: httpx.Response, query: RegistryQuery, attributes: list[str]
    ) -> dict[str, NeedResult]:
        if response.status_code == 404:
            # Only the register's own answer means "not registered"; a bare 404 (wrong URL,
            # proxy) must not pass as an empty record.
            if error_code(response) in self.unknown_codes:
                return all_results(attributes, *self.unknown_result)
            return all_results(attributes, "failed", "registry endpoint not found (HTTP 404)")
        if response.status_code != 200:
            code = error_code(response)
            detail = f": {code}" if code else ""
            return all_results(
                attributes,
                "failed",
                f"registry rejected the request (HTTP {response.status_code}{detail})",
            )
        try:
            answer = AbfrageAntwort.model_validate_json(response.content)
        except ValidationError:
            logger.warning("%s sent a malformed response", self.title)
            return all_results(attributes, "failed", "malformed response")
        provenance = Provenance(
            registry=self.id,
            registry_title=f"{self.title} ({answer.behoerde})",
            record_id=answer.record_id,
            as_of=answer.stand,
        )
        specs = self.available_attributes()
        return {name: self.result(name, answer, specs[name], provenance) for name in attributes}

    def result(
        self, name: str, answer: AbfrageAntwort, spec: AttributeSpec, provenance: Provenance
    ) -> NeedResult:
        """One attribute's result from the answer: ok, empty (with the hint's reason), failed."""
        if name not in answer.attribute:
            return NeedResult(
                attribute=name, status="failed", reason="attribute missing from response"
            )
        raw = answer.attribute[name]
        if raw is None:
            hint = answer.hinweise.get(name)
            if hint is None:
                return NeedResult(attribute=name, status="empty", reason=NOT_HELD)
            # A hint we do not know may mean "withheld": asking the citizen instead would be
            # wrong, so the field is marked failed and a person looks at the case.
            status, reason = HINTS.get(hint, ("failed", _unknown_hint(hint)))
            return NeedResult(
                attribute=name, status=status, reason=reason, blocked=hint in BLOCK_HINTS
            )
        try:
            value = typed(raw, spec.type)
        except (TypeError, ValueError):
            return NeedResult(attribute=name, status="failed", reason="malformed value in response")
        return NeedResult(
            attribute=name,
            status="ok",
            value=value,
            provenance=provenance.model_copy(),
            blocked=answer.hinweise.get(name) in BLOCK_HINTS,
        )


def _unknown_hint(hint: str) -> str:
    code = hint if re.fullmatch(r"[a-z_]{1,40}", hint) else "unexplained"
    return f"not delivered by the registry ({code})"
