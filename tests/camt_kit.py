"""camt.053 bank statements for tests, written as a bank would send them."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Transfer:
    amount: str
    remittance: str
    bank_ref: str
    credit: bool = True


def statement(
    transfers: list[Transfer], *, version: str = "02", statement_id: str = "S-1"
) -> bytes:
    """A camt.053.001.<version> (02 or 08) statement of one account with these entries."""
    status = "<Sts>BOOK</Sts>" if version == "02" else "<Sts><Cd>BOOK</Cd></Sts>"
    entries = "".join(
        f"""<Ntry><Amt Ccy="EUR">{t.amount}</Amt>
<CdtDbtInd>{"CRDT" if t.credit else "DBIT"}</CdtDbtInd>
{status}<BookgDt><Dt>2026-12-04</Dt></BookgDt><ValDt><Dt>2026-12-04</Dt></ValDt>
<AcctSvcrRef>{t.bank_ref}</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><TxDtls><RmtInf><Ustrd>{escape(t.remittance)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""
        for t in transfers
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">
<BkToCstmrStmt><GrpHdr><MsgId>M-{statement_id}</MsgId><CreDtTm>2026-12-04T18:00:00</CreDtTm></GrpHdr>
<Stmt><Id>{statement_id}</Id><CreDtTm>2026-12-04T18:00:00</CreDtTm>
<Acct><Id><IBAN>DE02370501980001802057</IBAN></Id></Acct>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-04</Dt></Dt></Bal>
{entries}</Stmt></BkToCstmrStmt></Document>""".encode()
