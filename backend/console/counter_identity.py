"""Who stands at the counter: the walk-in citizen is identified once, against the Melderegister
and by the ID document shown, before any of their data is read for an application, and a portal
account is linked only when its own verified identity is that same person.

A clerk once attached one citizen's register record to another citizen's portal account: the
IdNr, the name and the account id were typed independently and nothing checked that they belong
together. Here they must: the register is asked who holds the IdNr, the typed family name,
given names and date of birth must match its answer, and the account must carry that IdNr in
the identity its eID login gave it. Every read is logged for the person whose data it is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from backend.auth.tokens import Identity
from backend.cases.applications import access_rows
from backend.cases.subjects import counter_pseudonym
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.answers import din91379_problem
from backend.definitions.constraints import local_today
from backend.department.identity import ClerkIdentity
from backend.domain.din91379 import DataType
from backend.errors import InvalidInput, ServiceUnavailable
from backend.login.models import PortalSession
from backend.login.sessions import identity_from_json
from prefill.service import DataNeed, prefill

MAX_NAME = 100
MAX_AUTHORITY = 200
REGISTER = "melderegister"
IDENTIFY_PURPOSE = "Identitätsprüfung am Schalter (Abgleich von Name und Geburtsdatum)"
# The counter is a public body performing its task; the Meldebehörde may hand over these
# basic items to it (§ 34 Abs. 1 BMG).
IDENTIFY_LEGAL_BASIS = "§ 34 Abs. 1 BMG i. V. m. Art. 6 Abs. 1 lit. e DSGVO"
IDENTIFY_ATTRIBUTES = ("familienname", "vornamen", "geburtsdatum")

DOCUMENT_KINDS: dict[str, tuple[str, str]] = {
    "personalausweis": ("Personalausweis", "identity card"),
    "reisepass": ("Reisepass", "passport"),
    "aufenthaltstitel": ("Elektronischer Aufenthaltstitel", "electronic residence permit"),
}
"""Official photo ID documents accepted at the counter (§ 1 PAuswG, § 1 PassG, § 78 AufenthG)."""

Identification = Literal["melderegister", "melderegister_ausweis", "ausweis"]
"""How the person was identified: register match, register match and ID document, or only the
ID document (the Melderegister does not know the IdNr, e.g. someone who moved from abroad)."""

_FIELD_LABELS: dict[str, tuple[str, str]] = {
    "family_name": ("Familienname", "family name"),
    "given_names": ("Vorname(n)", "given name(s)"),
    "birthdate": ("Geburtsdatum", "date of birth"),
}


def _problem(field: str, de: str, en: str) -> dict[str, str]:
    return {"field": field, "message": en, "message_de": de}


def idnr_check_digit(first_ten: str) -> int:
    """Check digit of an Identifikationsnummer (ISO/IEC 7064 MOD 11,10, § 139b AO)."""
    product = 10
    for char in first_ten:
        total = (int(char) + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def valid_idnr(idnr: str) -> bool:
    """Eleven digits, not starting with 0, with a correct check digit (typing errors are caught
    here rather than by a registry that finds nobody)."""
    return re.fullmatch(r"[1-9][0-9]{10}", idnr) is not None and idnr_check_digit(idnr[:10]) == int(
        idnr[10]
    )


def name_tokens(value: str) -> list[str]:
    """A name as comparable words: case, accents written as on a keyboard without them
    (Müller = Mueller), ß = ss, and hyphens or apostrophes do not matter."""
    text = unicodedata.normalize("NFKC", value).casefold()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue")):
        text = text.replace(umlaut, spelled)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[-‐‑'’.,]", " ", text).split()


def parse_birthdate(value: str) -> date | None:
    """ISO (2026-01-31) or German (31.01.2026, 31.1.2026) as typed at the counter."""
    text = value.strip()
    german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    try:
        if german:
            return date(int(german.group(3)), int(german.group(2)), int(german.group(1)))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class IdDocument:
    """The ID document the citizen showed, kept as evidence of the identification."""

    kind: str
    number: str
    authority: str


@dataclass(frozen=True)
class WalkIn:
    """A citizen as the clerk typed them in; nothing about them is trusted yet."""

    idnr: str
    family_name: str
    given_names: str
    birthdate: date
    document: IdDocument | None = None
    portal_sub: str | None = None

    @property
    def name(self) -> str:
        return f"{self.given_names} {self.family_name}"

    @classmethod
    def parse(
        cls,
        *,
        idnr: str,
        family_name: str,
        given_names: str,
        birthdate: str,
        portal_sub: str | None = None,
        document_kind: str | None = None,
        document_number: str | None = None,
        document_authority: str | None = None,
    ) -> WalkIn:
        """What the clerk typed, checked; every problem at once, as form errors."""
        idnr = re.sub(r"\s+", "", idnr or "")
        family = " ".join((family_name or "").split())
        given = " ".join((given_names or "").split())
        sub = (portal_sub or "").strip() or None
        kind = (document_kind or "").strip()
        number = re.sub(r"\s+", "", document_number or "").upper()
        authority = " ".join((document_authority or "").split())
        problems: list[dict[str, str]] = []
        if not valid_idnr(idnr):
            problems.append(
                _problem(
                    "idnr",
                    "Bitte die elfstellige Identifikationsnummer eingeben; "
                    "die Prüfziffer stimmt nicht.",
                    "Enter the 11-digit tax identification number.",
                )
            )
        if not family or len(family) > MAX_NAME or not name_tokens(family):
            problems.append(
                _problem(
                    "family_name",
                    "Bitte den Familiennamen wie im Ausweis eingeben.",
                    "Enter the family name as on the ID document.",
                )
            )
        if not given or len(given) > MAX_NAME or not name_tokens(given):
            problems.append(
                _problem(
                    "given_names",
                    "Bitte den oder die Vornamen wie im Ausweis eingeben.",
                    "Enter the given name(s) as on the ID document.",
                )
            )
        for key, typed in (("family_name", family), ("given_names", given)):
            label_de, label_en = _FIELD_LABELS[key]
            outside = din91379_problem(key, label_de, label_en, typed, DataType.A)
            if outside is not None and not any(p["field"] == key for p in problems):
                problems.append(_problem(key, outside.de, outside.en))
        born = parse_birthdate(birthdate or "")
        if born is None or born > local_today() or born.year < 1900:
            problems.append(
                _problem(
                    "birthdate",
                    "Bitte das Geburtsdatum als TT.MM.JJJJ eingeben.",
                    "Enter the date of birth as DD.MM.YYYY.",
                )
            )
        document: IdDocument | None = None
        if kind or number or authority:
            if kind not in DOCUMENT_KINDS:
                problems.append(
                    _problem(
                        "document_kind",
                        "Bitte die Art des vorgelegten Ausweises wählen.",
                        "Choose the kind of ID document shown.",
                    )
                )
            if not re.fullmatch(r"[A-Z0-9]{6,20}", number):
                problems.append(
                    _problem(
                        "document_number",
                        "Bitte die Nummer des Ausweises eingeben (6 bis 20 Buchstaben und "
                        "Ziffern).",
                        "Enter the document number (6 to 20 letters and digits).",
                    )
                )
            if not authority or len(authority) > MAX_AUTHORITY:
                problems.append(
                    _problem(
                        "document_authority",
                        "Bitte die ausstellende Behörde eingeben, wie im Ausweis angegeben.",
                        "Enter the issuing authority as shown on the document.",
                    )
                )
            document = IdDocument(kind, number, authority)
        if sub is not None and not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", sub):
            problems.append(
                _problem(
                    "portal_sub",
                    "Die Kennung des Servicekontos ist ungültig.",
                    "The portal account id is not valid.",
                )
            )
        if problems or born is None:
            raise InvalidInput(
                "Bitte prüfen Sie die Angaben zur Person. (Check the citizen's details.)",
                details=problems,
            )
        return cls(idnr, family, given, born, document, sub)


@dataclass(frozen=True)
class IdentifiedPerson:
    """The walk-in after identification: who they are, how that was established, when."""

    walk_in: WalkIn
    identification: Identification
    identified_at: datetime
    account: Identity | None
    """The linked portal account, whose own eID identity carries the same IdNr."""

    @property
    def idnr(self) -> str:
        return self.walk_in.idnr

    @property
    def data_subject(self) -> str:
        """Registry reads are logged under this, so only this person's cockpit shows them."""
        return counter_pseudonym(self.walk_in.idnr)

    @property
    def register_confirmed(self) -> bool:
        """Whether the Melderegister confirmed that the IdNr is this person's."""
        return self.identification != "ausweis"

    @property
    def trust_level(self) -> str:
        """An official photo ID checked in person is eIDAS "high"; matching what the citizen
        knows against the register is no more than "substantial"."""
        return "hoch" if self.walk_in.document is not None else "substanziell"

    def identity(self) -> Identity:
        """The citizen as the application functions see them."""
        return Identity(
            sub=self.account.sub if self.account else self.data_subject,
            name=self.walk_in.name,
            trust_level=self.trust_level,
            idnr=self.walk_in.idnr,
            birthdate=self.walk_in.birthdate.isoformat(),
        )


def _register_mismatches(walk_in: WalkIn, held: dict[str, object]) -> list[str]:
    """Which of the typed fields the register contradicts (its values are never shown)."""
    wrong: list[str] = []
    if name_tokens(str(held.get("familienname") or "")) != name_tokens(walk_in.family_name):
        wrong.append("family_name")
    registered = name_tokens(str(held.get("vornamen") or ""))
    typed = name_tokens(walk_in.given_names)
    # The register holds every given name; the clerk may type just those used day to day.
    if not typed or any(name not in registered for name in typed):
        wrong.append("given_names")
    if str(held.get("geburtsdatum") or "") != walk_in.birthdate.isoformat():
        wrong.append("birthdate")
    return wrong


def _refused_mismatch(wrong: list[str]) -> InvalidInput:
    de = ", ".join(_FIELD_LABELS[f][0] for f in wrong)
    en = ", ".join(_FIELD_LABELS[f][1] for f in wrong)
    return InvalidInput(
        f"Die Angaben passen nicht zu der Person, die das Melderegister unter dieser "
        f"Identifikationsnummer führt: {de}. Es wurde nichts angelegt. (The details do not "
        f"match the person registered under this tax identification number: {en}. "
        f"Nothing was created.)",
        details=[
            _problem(
                field,
                f"{_FIELD_LABELS[field][0]}: stimmt nicht mit dem Melderegister für diese "
                "Identifikationsnummer überein. Bitte mit dem Ausweis vergleichen.",
                f"{_FIELD_LABELS[field][1].capitalize()}: does not match the Melderegister "
                "for this tax identification number. Compare with the ID document.",
            )
            for field in wrong
        ],
    )


def account_identity(ctx: AppContext, sub: str) -> Identity | None:
    """The identity a portal account's own eID login gave it, as the portal stored it for its
    latest session; None when the account has never logged in (or its sessions are gone)."""
    with Session(ctx.engine) as session:
        row = session.exec(
            select(PortalSession)
            .where(col(PortalSession.sub) == sub)
            .order_by(col(PortalSession.created_at).desc())
        ).first()
        return identity_from_json(row.identity) if row is not None else None


def _checked_account(ctx: AppContext, walk_in: WalkIn) -> Identity | None:
    """The portal account to link, only if its verified identity is the identified person."""
    if walk_in.portal_sub is None:
        return None
    account = account_identity(ctx, walk_in.portal_sub)
    if account is None or account.is_clerk:
        raise InvalidInput(
            "Das Servicekonto ist nicht bekannt. (The portal account is not known.)",
            details=[
                _problem(
                    "portal_sub",
                    "Dieses Servicekonto ist nicht bekannt. Bitten Sie die Person, sich einmal "
                    "im Portal anzumelden, und versuchen Sie es dann erneut, oder lassen Sie "
                    "das Feld leer.",
                    "This portal account is not known. Ask the person to log in to the portal "
                    "once and try again, or leave the field empty.",
                )
            ],
        )
    if account.idnr != walk_in.idnr:
        raise InvalidInput(
            "Das Servicekonto gehört nicht zu dieser Person; es wurde nichts angelegt. "
            "(The portal account belongs to someone else; nothing was created.)",
            details=[
                _problem(
                    "portal_sub",
                    "Das Servicekonto gehört nicht zu der identifizierten Person: seine "
                    "Anmeldung mit dem Online-Ausweis nennt eine andere Identifikationsnummer. "
                    "Lassen Sie das Feld leer; der Bescheid wird dann ausgedruckt.",
                    "The portal account does not belong to the identified person: its eID "
                    "login names another tax identification number. Leave the field empty; "
                    "the notice is then printed.",
                )
            ],
        )
    return account


async def identify(
    ctx: AppContext, clerk: ClerkIdentity, service: str, walk_in: WalkIn
) -> IdentifiedPerson:
    """Match the typed person against the Melderegister, then check the portal account.

    The register read is logged for the holder of the IdNr even when the match fails: it
    happened, and it is that person's data (§ 10 OZG). A mismatch refuses with the fields that
    did not match and creates nothing else.
    """
    if REGISTER not in ctx.connectors:
        found: dict[str, object] | None = None
    else:
        needs = [
            DataNeed(
                key=attribute,
                connector=REGISTER,
                attribute=attribute,
                purpose=IDENTIFY_PURPOSE,
                legal_basis=IDENTIFY_LEGAL_BASIS,
            )
            for attribute in IDENTIFY_ATTRIBUTES
        ]
        subject = counter_pseudonym(walk_in.idnr)
        outcome = await prefill(
            needs,
            identity_claims={"sub": subject, "idnr": walk_in.idnr},
            service=service,
            application_id=None,
            actor=clerk.actor.label,
            registry=ctx.connectors,
            configs=ctx.connector_configs,
            client=ctx.http,
            declared={(n.connector, n.attribute) for n in needs},
            health=ctx.registry_health,
        )

        def log_reads() -> None:
            with unit_of_work(ctx.engine) as session:
                for row in access_rows(outcome.accesses, subject):
                    session.add(row)

        await run_in_threadpool(log_reads)
        statuses = {r.status for r in outcome.results.values()}
        if "failed" in statuses:
            raise ServiceUnavailable(
                "Das Melderegister ist gerade nicht erreichbar; die Person kann nicht "
                "identifiziert werden. Bitte in einigen Minuten erneut versuchen. (The "
                "Melderegister is unreachable, so the person cannot be identified; try again "
                "in a few minutes.)"
            )
        found = {k: r.value for k, r in outcome.results.items()} if statuses != {"empty"} else None
    if found is not None:
        wrong = _register_mismatches(walk_in, found)
        if wrong:
            raise _refused_mismatch(wrong)
        how: Identification = (
            "melderegister_ausweis" if walk_in.document is not None else "melderegister"
        )
    elif walk_in.document is not None:
        how = "ausweis"
    else:
        raise InvalidInput(
            "Das Melderegister kennt diese Identifikationsnummer nicht. (The Melderegister does "
            "not know this tax identification number.)",
            details=[
                _problem(
                    "idnr",
                    "Das Melderegister kennt diese Identifikationsnummer nicht. Bitte die Nummer "
                    "prüfen, oder den vorgelegten Ausweis erfassen, um die Person damit zu "
                    "identifizieren.",
                    "The Melderegister does not know this tax identification number. Check the "
                    "number, or record the ID document shown to identify the person by it.",
                ),
                _problem(
                    "document_kind",
                    "Ohne Eintrag im Melderegister bitte den vorgelegten Ausweis erfassen.",
                    "Without a Melderegister entry, record the ID document shown.",
                ),
            ],
        )
    account = await run_in_threadpool(_checked_account, ctx, walk_in)
    return IdentifiedPerson(walk_in, how, utcnow(), account)
