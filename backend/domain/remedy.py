"""The legal remedy (Rechtsbehelf) against a service's decision, from its procedural regime.

One pure function, `remedy_for`, so that the notice, the portal, the receipts and the console
all say the same thing: a wrong Rechtsbehelfsbelehrung extends the period to one year
(§ 58 Abs. 2 VwGO, § 356 Abs. 2 AO, § 66 Abs. 2 SGG).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pydantic
from pydantic import model_validator

from backend.domain.language import LocalizedText, Strict, Text, located_problem

RemedyKind = Literal["widerspruch", "einspruch", "klage", "none"]

_NAMES: dict[RemedyKind, tuple[str, str, str]] = {
    "widerspruch": ("Widerspruch", "objection (Widerspruch)", "Widerspruchsfrist"),
    "einspruch": ("Einspruch", "objection (Einspruch)", "Einspruchsfrist"),
    "klage": ("Klage", "action before the court (Klage)", "Klagefrist"),
    "none": ("kein Rechtsbehelf", "no legal remedy", ""),
}

# The period of every remedy modelled here: § 70 Abs. 1 VwGO, § 74 Abs. 1 VwGO, § 355 Abs. 1 AO,
# § 84 Abs. 1 SGG.
PERIOD_DE = "innerhalb eines Monats nach Bekanntgabe"
PERIOD_EN = "within one month of notification"


Regime = Literal[
    "vwgo_vorverfahren", "vwgo_klage", "ao_einspruch", "sgg_widerspruch", "no_administrative_act"
]
"""Which procedural law governs the remedy against the service's decisions."""


class Body(Strict):
    """An authority or a court as a Rechtsbehelfsbelehrung must name it (§ 58 Abs. 1 VwGO)."""

    name: Text = pydantic.Field(description="Name, e.g. 'Verwaltungsgericht Köln'.")
    at: Text = pydantic.Field(
        description=(
            "The name after 'at' in German, with its article in the dative, e.g. "
            "'beim Verwaltungsgericht Köln' or 'bei der Familienkasse Nordrhein-Westfalen West'."
        )
    )
    address: Text = pydantic.Field(
        description="Postal address on one line, e.g. 'Appellhofplatz, 50667 Köln'."
    )
    electronic: LocalizedText | None = pydantic.Field(
        default=None,
        description=(
            "Electronic channels besides the portal an authority opens (§ 3a VwVfG, "
            "§ 36a SGB I, § 87a AO), e.g. a De-Mail address; courts need none (the "
            "elektronischer Rechtsverkehr is named by law)."
        ),
    )


class Procedure(Strict):
    """The procedural regime of the service's decisions and who hears a remedy against them."""

    regime: Regime = pydantic.Field(
        description=(
            "vwgo_vorverfahren: Widerspruch (§§ 68, 70 VwGO); vwgo_klage: no Vorverfahren "
            "under Land law, Klage at the Verwaltungsgericht (§ 74 VwGO); ao_einspruch: "
            "Einspruch (§§ 347, 355, 357 AO); sgg_widerspruch: Widerspruch (§§ 78, 84 SGG); "
            "no_administrative_act: the document decides nothing (e.g. a certificate)."
        )
    )
    legal_basis: Text | None = pydantic.Field(
        default=None,
        description=(
            "Why this regime applies, printed where the law that chose it matters, e.g. "
            "'§ 110 Abs. 1 JustG NRW' for vwgo_klage or '§ 13 BEEG' for sgg_widerspruch."
        ),
    )
    authority: Body | None = pydantic.Field(
        default=None,
        description=(
            "Where the Widerspruch or Einspruch is lodged: the issuing authority (§ 70 VwGO, "
            "§ 357 AO, § 84 SGG); required for every regime with one."
        ),
    )
    objection_authority: Body | None = pydantic.Field(
        default=None,
        description=(
            "Widerspruchsbehörde when it is not the issuing authority; lodging there also keeps "
            "the period (§ 70 Abs. 1 Satz 2 VwGO, § 84 Abs. 2 SGG)."
        ),
    )
    court: Body | None = pydantic.Field(
        default=None,
        description=(
            "The competent court: where to sue under vwgo_klage (required), otherwise the court "
            "of the later Klage (Verwaltungs-, Sozial- or Finanzgericht)."
        ),
    )

    @model_validator(mode="after")
    def _bodies_fit_regime(self) -> Procedure:
        """Each regime names the body the citizen must turn to; nothing it cannot use."""
        lodged_at_authority = ("vwgo_vorverfahren", "ao_einspruch", "sgg_widerspruch")
        if self.regime in lodged_at_authority and self.authority is None:
            raise located_problem(
                f"{self.regime} needs the authority the remedy is lodged at", "authority"
            )
        if self.regime == "vwgo_klage" and self.court is None:
            raise located_problem("vwgo_klage needs the competent court", "court")
        without_objection_authority = ("vwgo_klage", "ao_einspruch", "no_administrative_act")
        if self.regime in without_objection_authority and self.objection_authority is not None:
            raise located_problem(
                f"{self.regime} has no Widerspruchsbehörde", "objection_authority"
            )
        if self.regime == "no_administrative_act" and self.court is not None:
            raise located_problem("no_administrative_act names no court", "court")
        return self


@dataclass(frozen=True)
class Remedy:
    """What the citizen can do against a decision, where, how and under which law."""

    kind: RemedyKind
    legal_basis: str
    lodge_with: Body | None
    """The authority or court the remedy is lodged at; None when there is no remedy."""
    reinstatement_basis: str
    """Wiedereinsetzung in den vorigen Stand after a missed period."""
    in_portal: bool
    """Whether the portal takes the remedy in one click (only an authority can, never a court)."""
    text_de: tuple[str, ...]
    text_en: tuple[str, ...]
    reexamination_basis: str = ""
    """The authority's own second look at a lodged remedy: Abhilfe (§ 72 VwGO, § 85 Abs. 1 SGG)
    or the Einspruchsentscheidung (§ 367 AO); empty where nothing is lodged at the authority."""

    def name(self, lang: str) -> str:
        """The remedy's name in the citizen's language."""
        de, en, _ = _NAMES[self.kind]
        return en if lang == "en" else de

    @property
    def period_name_de(self) -> str:
        """The period's German name, e.g. 'Einspruchsfrist'; empty when there is no remedy."""
        return _NAMES[self.kind][2]

    def printed(self) -> dict[str, object]:
        """What a notice template gets: plain values, so the sandboxed renderer needs no methods."""
        return {
            "kind": self.kind,
            "name": self.name("de"),
            "legal_basis": self.legal_basis,
            "period_name": self.period_name_de,
            "paragraphs": list(self.text_de),
            "lodge_with": (
                {"name": self.lodge_with.name, "address": self.lodge_with.address}
                if self.lodge_with
                else None
            ),
        }

    def text(self, lang: str) -> tuple[str, ...]:
        """The Rechtsbehelfsbelehrung's paragraphs in one language, German for anything else."""
        return self.text_en if lang == "en" else self.text_de


def _electronic(body: Body, lang: str) -> str:
    """The authority's own electronic channels, if it declares any."""
    if body.electronic is None:
        return ""
    return " " + (body.electronic.en if lang == "en" else body.electronic.de)


def _with_objection_authority(procedure: Procedure, de: list[str], en: list[str]) -> None:
    """§ 70 Abs. 1 Satz 2 VwGO, § 84 Abs. 2 SGG: lodging at the Widerspruchsbehörde also counts."""
    other = procedure.objection_authority
    if other is None:
        return
    de.append(
        f"Die Frist wird auch gewahrt, wenn der Widerspruch {other.at}, {other.address}, "
        "erhoben wird."
    )
    en.append(
        f"The period is also kept if the objection is lodged with {other.name}, {other.address}."
    )


def _court_after(procedure: Procedure, what_de: str, what_en: str) -> tuple[str, str] | None:
    """Where the citizen may sue once the pre-trial procedure is over, when the court is known."""
    court = procedure.court
    if court is None:
        return None
    return (
        f"Gegen {what_de} kann danach Klage {court.at}, {court.address}, erhoben werden.",
        f"Against {what_en} you may then bring an action before {court.name}, {court.address}.",
    )


def remedy_for(procedure: Procedure) -> Remedy:
    """The remedy the law gives against a decision under ``procedure``, in German and English."""
    portal_de = (
        "Elektronisch können Sie ihn auch mit einem Klick auf der Seite Ihres Antrags im Portal "
        "einlegen, nachdem Sie sich mit Ihrem Online-Ausweis angemeldet haben."
    )
    portal_en = (
        "You can also lodge it electronically with one click on your application's page in the "
        "portal, after logging in with your online ID."
    )
    regime = procedure.regime
    if regime == "vwgo_vorverfahren":
        body = procedure.authority
        assert body is not None  # the model requires it for this regime
        de = [
            f"Gegen diesen Bescheid kann {PERIOD_DE} Widerspruch erhoben werden (§§ 68, 70 VwGO). "
            "Der Widerspruch ist schriftlich, in elektronischer Form (§ 3a Abs. 2 VwVfG) oder "
            f"zur Niederschrift {body.at}, {body.address}, zu erheben." + _electronic(body, "de"),
            portal_de,
        ]
        en = [
            f"You may lodge an objection (Widerspruch) against this notice {PERIOD_EN} "
            "(§§ 68, 70 VwGO). Lodge it in writing, in electronic form (§ 3a(2) VwVfG) or "
            f"in person for the record with {body.name}, {body.address}." + _electronic(body, "en"),
            portal_en,
        ]
        _with_objection_authority(procedure, de, en)
        return Remedy(
            "widerspruch",
            "§§ 68, 70 VwGO",
            body,
            "§ 70 Abs. 2, § 60 VwGO",
            True,
            (*de,),
            (*en,),
            reexamination_basis="§ 72 VwGO",
        )
    if regime == "sgg_widerspruch":
        body = procedure.authority
        assert body is not None
        basis = "§§ 78, 83, 84 SGG" + (
            f"; {procedure.legal_basis}" if procedure.legal_basis else ""
        )
        de = [
            f"Gegen diesen Bescheid kann {PERIOD_DE} Widerspruch erhoben werden "
            f"({basis}). "
            "Der Widerspruch ist schriftlich, in elektronischer Form (§ 36a Abs. 2 SGB I) oder "
            f"zur Niederschrift {body.at}, {body.address}, einzureichen." + _electronic(body, "de"),
            portal_de,
        ]
        en = [
            f"You may lodge an objection (Widerspruch) against this notice {PERIOD_EN} "
            f"({basis}). "
            "Lodge it in writing, in electronic form (§ 36a(2) SGB I) or in person for the "
            f"record with {body.name}, {body.address}." + _electronic(body, "en"),
            portal_en,
        ]
        _with_objection_authority(procedure, de, en)
        after = _court_after(procedure, "den Widerspruchsbescheid", "the decision on the objection")
        if after:
            de.append(after[0])
            en.append(after[1])
        return Remedy(
            "widerspruch",
            "§§ 78, 84 SGG",
            body,
            "§ 67 SGG",
            True,
            (*de,),
            (*en,),
            reexamination_basis="§ 85 Abs. 1 SGG",
        )
    if regime == "ao_einspruch":
        body = procedure.authority
        assert body is not None
        de = [
            "Gegen diesen Bescheid ist der Einspruch gegeben (§ 347 AO). Die Frist für die "
            "Einlegung des Einspruchs beträgt einen Monat; sie beginnt mit Ablauf des Tages, an "
            "dem Ihnen der Bescheid bekannt gegeben worden ist (§ 355 Abs. 1 AO). Der Einspruch "
            f"ist {body.at}, {body.address}, schriftlich oder elektronisch einzureichen oder zur "
            "Niederschrift zu erklären (§ 357 Abs. 1 AO)." + _electronic(body, "de"),
            portal_de,
        ]
        en = [
            "You may lodge an objection (Einspruch) against this notice (§ 347 AO). The period "
            "is one month; it starts at the end of the day on which the notice was notified to "
            f"you (§ 355(1) AO). Lodge it with {body.name}, {body.address}, in writing or "
            "electronically, or declare it there for the record (§ 357(1) AO)."
            + _electronic(body, "en"),
            portal_en,
        ]
        after = _court_after(
            procedure, "die Einspruchsentscheidung", "the decision on the objection"
        )
        if after:
            de.append(after[0])
            en.append(after[1])
        return Remedy(
            "einspruch",
            "§§ 347, 355, 357 AO",
            body,
            "§ 110 AO",
            True,
            (*de,),
            (*en,),
            reexamination_basis="§ 367 AO",
        )
    if regime == "vwgo_klage":
        court = procedure.court
        assert court is not None
        why_de = (
            f" Ein Widerspruchsverfahren findet nicht statt ({procedure.legal_basis})."
            if procedure.legal_basis
            else " Ein Widerspruchsverfahren findet nicht statt."
        )
        why_en = (
            f" There is no objection procedure ({procedure.legal_basis})."
            if procedure.legal_basis
            else " There is no objection procedure."
        )
        de = [
            f"Gegen diesen Bescheid kann {PERIOD_DE} Klage {court.at}, {court.address}, "
            "erhoben werden (§ 74 Abs. 1 Satz 2 VwGO)." + why_de,
            "Die Klage ist schriftlich oder zur Niederschrift des Urkundsbeamten der "
            "Geschäftsstelle des Gerichts zu erheben (§ 81 Abs. 1 VwGO). Sie kann auch als "
            "elektronisches Dokument nach Maßgabe des § 55a VwGO und der "
            "Elektronischer-Rechtsverkehr-Verordnung eingereicht werden; eine einfache E-Mail "
            "genügt nicht.",
        ]
        en = [
            f"You may bring an action (Klage) against this notice {PERIOD_EN} before "
            f"{court.name}, {court.address} (§ 74(1) sentence 2 VwGO)." + why_en,
            "Bring it in writing or in person for the record of the court's registry clerk "
            "(Urkundsbeamter der Geschäftsstelle, § 81(1) VwGO). It may also be filed as an "
            "electronic document under § 55a VwGO and the ordinance on electronic legal "
            "transactions; a plain e-mail is not enough.",
        ]
        return Remedy("klage", "§ 74 Abs. 1 Satz 2 VwGO", court, "§ 60 VwGO", False, (*de,), (*en,))
    body = procedure.authority
    where_de = f" {body.at}, {body.address}," if body else ""
    where_en = f" by {body.name}, {body.address}" if body else ""
    # No heading and two sentences: a certificate stays on one page, and the citizen still
    # learns plainly that there is nothing to appeal and where a wrong entry is corrected.
    de = [
        "Dieses Dokument ist kein Verwaltungsakt; ein Rechtsbehelf ist dagegen nicht gegeben. "
        f"Eine falsche Angabe können Sie{where_de} berichtigen lassen."
    ]
    en = [
        "This document is not an administrative act, so there is no legal remedy against it. "
        f"You may have a wrong entry corrected{where_en}."
    ]
    return Remedy("none", "", body, "", False, (*de,), (*en,))
