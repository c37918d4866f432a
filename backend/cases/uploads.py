"""Attaching documents to drafts: checked by content and size, stored with the draft."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from backend.auth.tokens import Identity
from backend.cases.applications import open_draft
from backend.cases.views import UploadView, upload_view
from backend.columns import utcnow
from backend.context import AppContext
from backend.db import unit_of_work
from backend.definitions.answers import FieldProblem
from backend.errors import InvalidInput, NotFound
from backend.uploads.files import (
    TYPE_NAMES,
    UploadRefused,
    checked_content,
    display_name,
    download_name,
    sniff_media_type,
)
from backend.uploads.models import Upload


@dataclass(frozen=True)
class StoredFile:
    """File content ready to send: the name is ours, never the citizen's."""

    filename: str
    media_type: str
    content: bytes


def _megabytes(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"


def _listing(names: list[str], conjunction: str) -> str:
    """PDF, JPG oder PNG."""
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def _invalid(field_id: str, de: str, en: str) -> InvalidInput:
    return InvalidInput(f"{de} ({en})", details=[FieldProblem(field_id, de, en).as_detail()])


def attach_upload(
    ctx: AppContext,
    identity: Identity,
    application_id: str,
    field_id: str,
    *,
    filename: str | None,
    content: bytes,
) -> UploadView:
    """Store a file for a file field of a draft, replacing the one it had."""
    with unit_of_work(ctx.engine) as session:
        application, definition = open_draft(ctx, session, identity, application_id)
        field = next((f for f in definition.fields if f.id == field_id), None)
        if field is None or field.type != "file":
            raise NotFound("Dieses Feld gibt es nicht. (No such file field.)")
        label_de, label_en = field.label.de, field.label.en
        if not content:
            raise _invalid(
                field_id,
                f"Die gewählte Datei für „{label_de}“ ist leer. Bitte wählen Sie eine andere.",
                f"The file selected for '{label_en}' is empty. Choose another file.",
            )
        limit = field.upload_limit_bytes
        if len(content) > limit:
            raise _invalid(
                field_id,
                f"Die Datei für „{label_de}“ ist größer als {_megabytes(limit)}. Bitte wählen "
                "Sie eine kleinere Datei, zum Beispiel ein Foto in geringerer Auflösung.",
                f"The file for '{label_en}' must be smaller than {_megabytes(limit)}. Choose a "
                "smaller file, for example a photo at a lower resolution.",
            )
        media_type = sniff_media_type(content)
        if media_type is None or media_type not in field.upload_types:
            names = [TYPE_NAMES[t] for t in field.upload_types]
            allowed_de = _listing(names, "oder")
            allowed_en = _listing(names, "or")
            raise _invalid(
                field_id,
                f"Die Datei für „{label_de}“ muss ein {allowed_de} sein.",
                f"The file for '{label_en}' must be a {allowed_en}.",
            )
        try:
            # What is stored is what we checked: images redrawn, active PDFs and archives out.
            content = checked_content(content, media_type)
        except UploadRefused as refused:
            raise _invalid(
                field_id, f"„{label_de}“: {refused.de}", f"'{label_en}': {refused.en}"
            ) from None
        previous = session.exec(
            select(Upload).where(
                Upload.application_id == application.id, Upload.field_id == field_id
            )
        ).first()
        if previous is not None:
            session.delete(previous)
            session.flush()  # the unique (draft, field) row must go before its successor comes
        upload = Upload(
            application_id=application.id,
            citizen_sub=identity.sub,
            field_id=field_id,
            display_name=display_name(filename, media_type),
            media_type=media_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
        )
        session.add(upload)
        application.answers = {
            **application.answers,
            field_id: {
                "upload": upload.id,
                "name": upload.display_name,
                "media_type": media_type,
                "size": upload.size,
                "sha256": upload.sha256,
            },
        }
        application.updated_at = utcnow()
        session.add(application)
        return upload_view(upload)


def remove_upload(ctx: AppContext, identity: Identity, application_id: str, field_id: str) -> None:
    """Take a file off a draft; removing one that is not there is harmless."""
    with unit_of_work(ctx.engine) as session:
        application, _definition = open_draft(ctx, session, identity, application_id)
        upload = session.exec(
            select(Upload).where(
                Upload.application_id == application.id, Upload.field_id == field_id
            )
        ).first()
        if upload is not None:
            session.delete(upload)
        if field_id in application.answers:
            application.answers = {k: v for k, v in application.answers.items() if k != field_id}
            application.updated_at = utcnow()
            session.add(application)


def application_uploads(session: Session, application_id: str) -> list[UploadView]:
    """The files attached to a draft or submitted with it, in upload order."""
    rows = session.exec(
        select(Upload)
        .where(Upload.application_id == application_id)
        .options(defer(Upload.content))  # type: ignore[arg-type]
        .order_by(col(Upload.created_at))
    ).all()
    return [upload_view(row) for row in rows]


def open_upload(ctx: AppContext, identity: Identity, upload_id: str) -> StoredFile:
    """A citizen's own uploaded file; anyone else's does not exist for them (404)."""
    with Session(ctx.engine) as session:
        upload = session.get(Upload, upload_id)
        if upload is None or upload.citizen_sub != identity.sub:
            raise NotFound("Diese Datei gibt es nicht. (File not found.)")
        return StoredFile(
            filename=download_name(upload.field_id, upload.media_type),
            media_type=upload.media_type,
            content=upload.content,
        )
