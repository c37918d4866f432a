"""What a decided case puts on paper: the notice, a certificate or a receipt."""

from __future__ import annotations

import re
from typing import Literal

import pydantic
from pydantic import field_validator

from backend.definitions.models.base import Identifier, _Strict
from backend.domain.language import LocalizedText, Text

Outcome = Literal["approved", "rejected", "referred"]


class Document(_Strict):
    """A PDF rendered for an outcome: the notice, a certificate or a receipt."""

    id: Identifier = pydantic.Field(description="Document id, unique within the service.")
    kind: Literal["notice", "certificate", "receipt"] = pydantic.Field(description="Document kind.")
    template: Text = pydantic.Field(
        description="Jinja2 template relative to the service folder, e.g. 'templates/notice.html'."
    )
    title: LocalizedText = pydantic.Field(description="Document title, e.g. in the mailbox.")
    on: list[Outcome] = pydantic.Field(
        min_length=1, description="Outcomes for which the document is issued."
    )
    certifies_register: Text | None = pydantic.Field(
        default=None,
        description=(
            "Connector id of the register whose content the document certifies, e.g. "
            "'melderegister': it is issued only when every register-filled value of the case was "
            "read from a register or confirmed by a clerk deciding by hand; otherwise the case "
            "goes to a person."
        ),
    )

    @field_validator("template")
    @classmethod
    def _inside_service_folder(cls, template: str) -> str:
        """Templates must live in the service folder, which is what an integrator controls."""
        if template.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", template):
            raise ValueError("the template path must be relative to the service folder")
        if ".." in re.split(r"[\\/]", template):
            raise ValueError("the template path must not leave the service folder")
        return template

    @field_validator("on")
    @classmethod
    def _distinct(cls, on: list[Outcome]) -> list[Outcome]:
        """Listing an outcome twice is a typo."""
        if len(set(on)) != len(on):
            raise ValueError("an outcome is listed twice")
        return on
