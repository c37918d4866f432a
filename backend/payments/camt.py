"""camt.053 bank statements: fees paid by transfer, matched to their case without a person.

A statement (ISO 20022 camt.053.001.02 or .08) is read with a hardened parser (no DTD, no
entities, no network) and validated against the official XSD before anything is believed.
Every booked credit is matched by the Kassenzeichen in its remittance information and by its
amount; a match is recorded paid through ``record_paid``, the same path a provider's
notification takes, so the waiting case moves on exactly once. What does not fit (unknown
Kassenzeichen, another amount, paid twice, paid after the deadline) is kept as a discrepancy
for the department's console. Each credit is stored once (``entry_key``): a statement imported
twice changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from lxml import etree
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend import xmlsafe
from backend.context import AppContext
from backend.db import unit_of_work
from backend.errors import InvalidInput
from backend.payments.models import Payment, PaymentBankCredit
from backend.payments.service import record_paid
from backend.records.models import Case

log = logging.getLogger("knopfdruck.payments")

MAX_BYTES = 20 * 1024 * 1024
XSD_DIR = Path(__file__).parent / "camt_xsd"
VERSIONS = ("camt.053.001.02", "camt.053.001.08")
_NS = "urn:iso:std:iso:20022:tech:xsd:"
# A case reference is KD-<year>-<4>-<4> from this alphabet (backend/records/models.py); banks
# often drop hyphens and spaces from the Verwendungszweck, so we look for it without them.
_REFERENCE = re.compile(r"(?=(20\d{2})([2-9A-HJKMNP-Z]{8}))")
DISCREPANCIES = ("unknown_kassenzeichen", "amount_mismatch", "duplicate", "late")


class StatementRefused(InvalidInput):
    """The file is no valid camt.053 statement: nothing in it was imported."""


@dataclass(frozen=True)
class Credit:
    """One incoming transfer as the bank reports it."""

    entry_key: str
    statement_id: str
    booked_on: str
    amount: Decimal
    currency: str
    remittance: str


@dataclass(frozen=True)
class ImportReport:
    version: str
    credits: int
    results: dict[str, int]


@lru_cache(maxsize=2)
def _schema(version: str) -> etree.XMLSchema:
    return xmlsafe.load_schema(str(XSD_DIR / f"{version}.xsd"))


def read_statement(data: bytes) -> tuple[str, list[Credit]]:
    """The booked credits of a camt.053 file; raises StatementRefused for anything else."""
    if len(data) > MAX_BYTES:
        raise StatementRefused("Der Kontoauszug ist zu groß. (Statement too large.)")
    if re.search(rb"<!DOCTYPE", data, re.IGNORECASE):
        # Refused before parsing, with the bank's term in the message; xmlsafe would refuse too.
        raise StatementRefused("Eine DOCTYPE-Angabe ist nicht erlaubt. (No DOCTYPE allowed.)")
    try:
        root = xmlsafe.parse(data, max_bytes=MAX_BYTES)
    except xmlsafe.UnsafeXml as exc:
        raise StatementRefused(f"Kein lesbares XML. ({exc})") from None
    namespace = etree.QName(root).namespace or ""
    version = namespace.removeprefix(_NS)
    if version not in VERSIONS or etree.QName(root).localname != "Document":
        raise StatementRefused(
            f"Kein camt.053.001.02 oder .08. (Not a camt.053.001.02/.08 statement: {version!r}.)"
        )
    try:
        _schema(version).assertValid(root)
    except etree.DocumentInvalid as exc:
        raise StatementRefused(
            f"Der Kontoauszug verletzt das Schema {version}. (Schema violation: {exc})"
        ) from None
    return version, _credits(root, {"c": namespace}, version)


def _text(node: etree._Element, path: str, ns: dict[str, str]) -> str:
    found = node.find(path, ns)
    return (found.text or "").strip() if found is not None else ""


def _amount(node: etree._Element | None) -> tuple[Decimal, str] | None:
    if node is None or node.text is None:
        return None
    try:
        return Decimal(node.text.strip()), str(node.get("Ccy", ""))
    except InvalidOperation:
        return None


def _credits(root: etree._Element, ns: dict[str, str], version: str) -> list[Credit]:
    credits: list[Credit] = []
    for statement in root.iterfind("c:BkToCstmrStmt/c:Stmt", ns):
        statement_id = _text(statement, "c:Id", ns)
        account = _text(statement, "c:Acct/c:Id/c:IBAN", ns) or _text(
            statement, "c:Acct/c:Id/c:Othr/c:Id", ns
        )
        for number, entry in enumerate(statement.iterfind("c:Ntry", ns)):
            status = _text(entry, "c:Sts" if version.endswith("02") else "c:Sts/c:Cd", ns)
            if _text(entry, "c:CdtDbtInd", ns) != "CRDT" or status != "BOOK":
                continue  # debits and pending entries are not money received
            if _text(entry, "c:RvslInd", ns) == "true":
                continue  # a reversal of a debit, not a payment
            entry_amount = _amount(entry.find("c:Amt", ns))
            booked_on = _text(entry, "c:BookgDt/c:Dt", ns) or _text(entry, "c:BookgDt/c:DtTm", ns)
            bank_ref = _text(entry, "c:AcctSvcrRef", ns)
            details = entry.findall("c:NtryDtls/c:TxDtls", ns)
            own = [
                _amount(d.find("c:Amt", ns)) or _amount(d.find("c:AmtDtls/c:TxAmt/c:Amt", ns))
                for d in details
            ]
            parts: list[tuple[etree._Element | None, tuple[Decimal, str] | None]]
            if len(details) > 1 and all(own):
                parts = list(zip(details, own, strict=True))
            else:  # one transfer: the entry's amount, all its remittance text
                parts = [(None, entry_amount)]
            for index, (detail, amount) in enumerate(parts):
                if amount is None:
                    continue
                scope = [detail] if detail is not None else details
                texts = [t.text or "" for d in scope for t in d.iterfind("c:RmtInf/c:Ustrd", ns)]
                texts += [
                    t.text or ""
                    for d in scope
                    for t in d.iterfind("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", ns)
                ]
                texts.append(_text(entry, "c:AddtlNtryInf", ns))
                origin = (
                    f"{account}|{bank_ref}" if bank_ref else f"{account}|{statement_id}|{number}"
                )
                credits.append(
                    Credit(
                        entry_key=hashlib.sha256(f"{origin}|{index}".encode()).hexdigest(),
                        statement_id=statement_id[:35],
                        booked_on=booked_on[:10],
                        amount=amount[0],
                        currency=amount[1][:3],
                        remittance=" ".join(" ".join(t.split()) for t in texts if t.strip())[:140],
                    )
                )
    return credits


def _candidates(remittance: str) -> list[str]:
    """Case references a Verwendungszweck may name, in whatever spacing the bank kept."""
    return sorted(
        {
            f"KD-{m.group(1)}-{m.group(2)[:4]}-{m.group(2)[4:]}"
            for m in _REFERENCE.finditer(_compact(remittance))
        }
    )


def _compact(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def _match(session: Session, credit: Credit) -> Payment | None:
    """The payment whose whole Kassenzeichen the remittance names."""
    references = _candidates(credit.remittance)
    if not references:
        return None
    rows = session.exec(
        select(Payment)
        .join(Case, col(Case.id) == col(Payment.case_id))
        .where(col(Case.reference).in_(references))
    ).all()
    text = _compact(credit.remittance)
    named = [p for p in rows if _compact(p.kassenzeichen or "") in text and p.kassenzeichen]
    return named[0] if len(named) == 1 else None


def _department(session: Session, case_id: str) -> str | None:
    found = session.exec(select(Case.department).where(Case.id == case_id)).first()
    return str(found) if found is not None else None


def _apply(ctx: AppContext, session: Session, credit: Credit) -> PaymentBankCredit:
    row = PaymentBankCredit(
        entry_key=credit.entry_key,
        statement_id=credit.statement_id,
        booked_on=credit.booked_on,
        amount=f"{credit.amount:.2f}",
        currency=credit.currency,
        remittance=credit.remittance,
        result="unknown_kassenzeichen",
    )
    payment = _match(session, credit)
    if payment is None:
        return row
    row.payment_id, row.case_id, row.kassenzeichen = (
        payment.id,
        payment.case_id,
        payment.kassenzeichen,
    )
    row.department = _department(session, payment.case_id)
    if credit.amount != Decimal(payment.amount) or credit.currency != payment.currency:
        row.result = "amount_mismatch"
        return row
    outcome = record_paid(ctx, session, payment, paid_at=None, source="camt")
    row.result = {"paid": "paid", "already_paid": "duplicate", "late": "late"}[outcome]
    return row


def import_statement(ctx: AppContext, data: bytes) -> ImportReport:
    """Validate, then apply each credit in its own transaction, once; a re-import is a no-op."""
    version, credits = read_statement(data)
    results: dict[str, int] = {}
    for credit in credits:
        try:
            with unit_of_work(ctx.engine) as session:
                seen = session.exec(
                    select(PaymentBankCredit.id).where(
                        PaymentBankCredit.entry_key == credit.entry_key
                    )
                ).first()
                if seen is not None:
                    result = "already_imported"
                else:
                    row = _apply(ctx, session, credit)
                    session.add(row)
                    session.flush()
                    result = row.result
        except IntegrityError:
            result = "already_imported"  # the same file imported twice at once
        results[result] = results.get(result, 0) + 1
        if result in DISCREPANCIES:
            log.warning("camt credit %s: %s", credit.entry_key[:12], result)
    return ImportReport(version, len(credits), results)


@dataclass(frozen=True)
class Discrepancy:
    """A transfer a person must look at, with the case it names (if any)."""

    credit: PaymentBankCredit
    case_reference: str | None


def department_discrepancies(
    session: Session, department: str, *, unclaimed: bool
) -> list[Discrepancy]:
    """The department's own; with ``unclaimed`` also those no case claims (need-to-know)."""
    # A transfer no case claims belongs to no department, and its Verwendungszweck may name a
    # person: only those who lead a department see it (the console passes that in), not every
    # clerk of every department.
    mine = col(PaymentBankCredit.department) == department
    if unclaimed:
        mine = mine | col(PaymentBankCredit.department).is_(None)
    rows = session.exec(
        select(PaymentBankCredit, Case.reference)
        .join(Case, col(Case.id) == col(PaymentBankCredit.case_id), isouter=True)
        .where(col(PaymentBankCredit.result).in_(DISCREPANCIES), mine)
        .order_by(col(PaymentBankCredit.imported_at).desc(), col(PaymentBankCredit.id).desc())
        .limit(200)
    ).all()
    return [Discrepancy(credit, reference) for credit, reference in rows]
