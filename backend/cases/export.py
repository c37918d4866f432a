"""The full case file as one ZIP, for archiving in the department's E-Akte.

``knopfdruck export-case <id>`` writes, in a fixed order and with fixed timestamps (so the same
case gives the same bytes):

- ``akte.json``: the case (metadata, the values with origin and provenance, the decision with
  its reasons, rule version and inputs), its payment, tasks and mailbox messages;
- ``protokoll.json``: the hash-chained case log, every event with its hashes, and the result of
  checking the chain when the file was written;
- ``dokumente/<file>``: every issued notice, certificate and receipt as stored;
- ``anlagen/<field>-<n>.<ext>``: the citizen's uploads, named by field, never by their own name;
- ``manifest.json``: SHA-256 and size of every other file, so the archive can prove later that
  nothing in the ZIP was changed.

The export contains personal data in clear (it is the file the authority keeps); it is written
only by an operator on the command line, never offered over HTTP.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select

from backend.errors import NotFound
from backend.notifications.models import MailboxMessage
from backend.payments.models import Payment
from backend.records.audit import verify_case_chain
from backend.records.models import Case, CaseEvent, CaseTask, Document
from backend.uploads.files import download_name
from backend.uploads.models import Upload

FIXED_TIME = (2000, 1, 1, 0, 0, 0)
"""ZIP entry time: the real times are inside the JSON files; fixed bytes make exports comparable."""


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode()


def _row(model: SQLModel, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    return {k: v for k, v in model.model_dump().items() if k not in set(leave_out)}


def export_case(engine: Engine, case_id: str, *, exported_at: datetime) -> bytes:
    """The ZIP bytes of one case's file; NotFound for an unknown id."""
    with Session(engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"Es gibt keinen Vorgang {case_id}. (No such case.)")
        events = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
        ).all()
        chain = verify_case_chain(session, case_id)
        documents = session.exec(
            select(Document).where(Document.case_id == case_id).order_by(col(Document.created_at))
        ).all()
        uploads = session.exec(
            select(Upload).where(Upload.case_id == case_id).order_by(col(Upload.created_at))
        ).all()
        payment = session.exec(select(Payment).where(Payment.case_id == case_id)).first()
        tasks = session.exec(
            select(CaseTask).where(CaseTask.case_id == case_id).order_by(col(CaseTask.created_at))
        ).all()
        messages = session.exec(
            select(MailboxMessage)
            .where(MailboxMessage.case_id == case_id)
            .order_by(col(MailboxMessage.created_at))
        ).all()
        files: dict[str, bytes] = {}
        taken: set[str] = set()
        for document in documents:
            name = f"dokumente/{document.filename}"
            if name in taken:
                name = f"dokumente/{document.id}-{document.filename}"
            taken.add(name)
            files[name] = document.content
        for index, upload in enumerate(uploads, start=1):
            files[f"anlagen/{index:02d}-{download_name(upload.field_id, upload.media_type)}"] = (
                upload.content
            )
        files["akte.json"] = _json(
            {
                "exported_at": exported_at.isoformat(),
                "case": _row(case),
                "payment": _row(payment) if payment else None,
                "tasks": [_row(t) for t in tasks],
                "mailbox": [_row(m) for m in messages],
                "documents": [_row(d, leave_out=["content"]) for d in documents],
                "attachments": [_row(u, leave_out=["content"]) for u in uploads],
            }
        )
        files["protokoll.json"] = _json(
            {
                "chain": {
                    "ok": chain.ok,
                    "events": chain.events,
                    "broken_at": chain.broken_at,
                    "problem": chain.problem,
                },
                "events": [_row(e) for e in events],
            }
        )
    manifest = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in sorted(files.items())
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*sorted(files.items()), ("manifest.json", _json(manifest))]:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
