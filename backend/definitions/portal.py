"""The portal operator's legal information, one YAML file validated at start-up like services.

Tenancy is not built yet, so the authorities are the ones the service definitions already name
(`procedure.authority`, else `authority`); this file adds what a definition does not carry: who
represents the authority, how to reach it, its data protection officer, and the portal-wide texts
(accessibility statement, Leichte Sprache, sign language). Nothing of it lives in templates.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import pydantic

from backend.definitions.models import LocalizedText, ServiceDefinition, Text, _Strict
from backend.definitions.yaml_lines import _Document, read_model
from backend.errors import DefinitionError


class Contact(_Strict):
    """A person or office a citizen can write to."""

    name: Text = pydantic.Field(description="Name or role, e.g. 'Datenschutzbeauftragte'.")
    address: Text = pydantic.Field(description="Postal address on one line.")
    email: Text | None = pydantic.Field(default=None, description="E-mail address.")
    phone: Text | None = pydantic.Field(default=None, description="Telephone number.")
    url: Text | None = pydantic.Field(default=None, description="Web address (https://…).")


class Operator(_Strict):
    """Who runs the portal: the Diensteanbieter of the Impressum (§ 5 DDG, § 18 MStV)."""

    name: Text
    legal_form: LocalizedText = pydantic.Field(
        description="e.g. 'Körperschaft des öffentlichen Rechts'."
    )
    represented_by: Text = pydantic.Field(description="Who represents it (§ 5 Abs. 1 Nr. 1 DDG).")
    address: Text
    email: Text
    phone: Text
    vat_id: Text | None = pydantic.Field(default=None, description="USt-IdNr. (§ 27a UStG).")
    supervisory_authority: Contact | None = pydantic.Field(
        default=None, description="Aufsichtsbehörde of the operator (§ 5 Abs. 1 Nr. 3 DDG)."
    )
    content_responsible: Contact = pydantic.Field(
        description="Verantwortlich für den Inhalt (§ 18 Abs. 2 MStV)."
    )
    hosting: Contact = pydantic.Field(
        description="Who runs the servers: a processor under Art. 28 GDPR."
    )


class Authority(_Strict):
    """An authority whose services the portal offers; `name` matches the service definitions."""

    name: Text = pydantic.Field(description="Exactly as in procedure.authority.name.")
    represented_by: Text
    address: Text
    email: Text
    phone: Text
    data_protection_officer: Contact
    supervisory_authority: Contact | None = pydantic.Field(
        default=None,
        description="Its data protection supervisor when not the operator's (a federal body "
        "answers to the BfDI, § 9 BDSG).",
    )
    accessibility_enforcement: Contact | None = pydantic.Field(
        default=None,
        description="Its enforcement body when not the operator's (federal bodies: the "
        "Schlichtungsstelle nach § 16 BGG).",
    )


class AccessibilityStatement(_Strict):
    """Erklärung zur Barrierefreiheit (§ 12b BGG, BITV 2.0 § 7, Art. 7 EU 2016/2102)."""

    status: Literal["full", "partial", "none"] = pydantic.Field(
        description="Vereinbarkeit with the requirements: full, partial or none."
    )
    last_checked: date = pydantic.Field(description="Date of the last check of the portal.")
    prepared_on: date = pydantic.Field(description="Date the statement was drawn up.")
    method: LocalizedText = pydantic.Field(description="How it was checked (self-assessment…).")
    known_gaps: list[LocalizedText] = pydantic.Field(
        default_factory=list, description="What is not yet accessible, and the alternative."
    )
    contact: Contact = pydantic.Field(description="Who answers the feedback (Feedback-Stelle).")
    enforcement: Contact = pydantic.Field(
        description="Durchsetzungsverfahren: Schlichtungsstelle / Ombudsstelle of the Land."
    )


class Section(_Strict):
    """One headed block of a configurable page."""

    title: LocalizedText
    text: list[LocalizedText] = pydantic.Field(min_length=1)


class Video(_Strict):
    """A sign-language video the operator publishes; the portal ships none."""

    title: LocalizedText
    url: Text = pydantic.Field(pattern=r"^https://")
    duration: Text | None = None


class PortalConfig(_Strict):
    """Everything the legal pages say that the service definitions do not."""

    operator: Operator
    data_protection_officer: Contact = pydantic.Field(
        description="The operator's own data protection officer (Art. 37 GDPR)."
    )
    supervisory_authority: Contact = pydantic.Field(
        description="Data protection supervisory authority for complaints (Art. 77 GDPR)."
    )
    authorities: list[Authority] = pydantic.Field(default_factory=list)
    accessibility: AccessibilityStatement
    easy_language: list[Section] = pydantic.Field(
        min_length=1, description="Leichte Sprache (BITV 2.0 § 4): German, with an English twin."
    )
    sign_language: list[Section] = pydantic.Field(
        min_length=1, description="Text of the DGS page around the videos."
    )
    sign_language_videos: list[Video] = pydantic.Field(default_factory=list)

    def authority(self, name: str) -> Authority | None:
        """The configured authority of that name, if the operator configured it."""
        return next((a for a in self.authorities if a.name == name), None)


def authority_of(definition: ServiceDefinition, default: str) -> tuple[str, str | None]:
    """The authority responsible for a service and its address, as its definition names it."""
    if definition.procedure is not None and definition.procedure.authority is not None:
        return definition.procedure.authority.name, definition.procedure.authority.address
    return definition.authority or default, None


def load_portal_config(file: Path) -> PortalConfig:
    """Read and check the operator's file; DefinitionError with file:line for every problem."""
    config, problems = read_model(_Document(file), PortalConfig)
    if config is None or problems:
        raise DefinitionError(problems or [f"{file.as_posix()}:1 (root): unreadable"])
    return config


def missing_authorities(
    config: PortalConfig, definitions: list[ServiceDefinition], default: str
) -> list[str]:
    """Warnings: services whose authority has no Impressum and no data protection officer."""
    warnings = []
    for definition in definitions:
        name, _address = authority_of(definition, default)
        if config.authority(name) is None:
            warnings.append(
                f"service {definition.id}: authority '{name}' has no entry in the portal "
                "config (authorities:), so its Impressum, data protection officer and legal "
                "pages fall back to the operator's"
            )
    return warnings
