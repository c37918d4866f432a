"""Read side for citizens: their cases and documents, never anyone else's."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.errors import NotFound
from backend.models import Case, Document, RegistryAccess


def get_case(session: Session, identity: Identity, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None or case.citizen_sub != identity.sub:
        raise NotFound("Diesen Vorgang gibt es nicht. (Case not found.)")
    return case


def list_cases(session: Session, identity: Identity) -> list[Case]:
    return list(
        session.exec(
            select(Case)
            .where(Case.citizen_sub == identity.sub)
            .order_by(col(Case.submitted_at).desc())
        ).all()
    )


def case_documents(session: Session, case_id: str) -> list[Document]:
    return list(
        session.exec(
            select(Document).where(Document.case_id == case_id).order_by(col(Document.created_at))
        ).all()
    )


def get_document(session: Session, identity: Identity, case_id: str, document_id: str) -> Document:
    case = get_case(session, identity, case_id)
    document = session.get(Document, document_id)
    if document is None or document.case_id != case.id:
        raise NotFound("Dieses Dokument gibt es nicht. (Document not found.)")
    return document


def my_data_accesses(
    session: Session, identity: Identity, limit: int = 200
) -> list[RegistryAccess]:
    return list(
        session.exec(
            select(RegistryAccess)
            .where(RegistryAccess.subject_sub == identity.sub)
            .order_by(col(RegistryAccess.at).desc())
            .limit(limit)
        ).all()
    )
