"""Sandbox E-Akte: takes xdomea 0605 ZIPs over HTTP, checks them, answers with a 0630.

It plays the authority's DMS the way the sandbox FIT-Connect plays a Fachverfahren: the
platform reaches it over HTTP only (``KNOPFDRUCK_EAKTE_URL=<base>/sandbox/eakte/messages``).
Filed messages live in the memory of the process that built the router.

- ``POST /messages`` (``Authorization: Bearer <token>`` when a token is set; body: the ZIP):
  the message must validate against the xdomea 3.0.0 XSD, every primary document named in it
  must be in the ZIP with the SHA-256 and size the message states, and nothing else may be in
  the ZIP. Answer: ``FVDaten.ImportBestaetigen.0630`` with AllgemeineRueckmeldung ``0000000``
  (filed; HTTP 200), ``0000009`` (this ProzessID was filed before; HTTP 200), ``0000008``
  (schema invalid; HTTP 422) or ``0000015`` (a file missing or its hash wrong; HTTP 422).
- ``GET /messages``, ``GET /messages/{ProzessID}``: what was filed (for tests and demos).

Being the other side of the protocol, it reads xdomea with its own code (``xdomea_peer``),
never the platform's.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import threading
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sandbox.xdomea_peer import (
    ALREADY_PROCESSED,
    CHECKSUM_EXTENSION,
    FILING,
    NS,
    SCHEMA_INVALID,
    SUCCESS,
    TRANSFER_ERROR,
    acknowledgement,
    parse,
    schema_problems,
)

MAX_BODY = 200 * 1024 * 1024
NAME = "Sandbox-E-Akte"


@dataclass
class Filed:
    process_id: str
    case_id: str
    reference: str
    documents: list[str]
    filed_at: datetime
    deliveries: int = 1


def _problems(content: bytes) -> tuple[str, str, list[str], Any]:
    """(code, ProzessID, problems, parsed root) of a received ZIP, checked on its own terms."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return SCHEMA_INVALID, "", ["kein ZIP-Archiv"], None
    messages = [n for n in names if n.endswith(f"_{FILING}.xml")]
    if len(messages) != 1:
        return SCHEMA_INVALID, "", [f"{len(messages)} Nachrichten {FILING} im Archiv"], None
    xml = archive.read(messages[0])
    problems = schema_problems(xml, message=FILING)
    if problems:
        return SCHEMA_INVALID, "", problems, None
    root = parse(xml)
    ns = {"x": NS}
    pid = root.findtext("x:Kopf/x:ProzessID", namespaces=ns) or ""
    named: set[str] = set()
    for doc in root.iter(f"{{{NS}}}Dokument"):
        stated: dict[str, str] = {}
        for ext in doc.findall("x:AnwendungsspezifischeErweiterung", ns):
            if ext.findtext("x:Kennung", namespaces=ns) == CHECKSUM_EXTENSION:
                for feld in ext.findall("x:Feld", ns):
                    stated[feld.findtext("x:Name", namespaces=ns) or ""] = (
                        feld.findtext("x:Wert", namespaces=ns) or ""
                    )
        for name_el in doc.findall("x:Version/x:Format/x:Primaerdokument/x:Dateiname", ns):
            name = name_el.text or ""
            named.add(name)
            if name not in names:
                problems.append(f"Primärdokument {name} fehlt")
                continue
            data = archive.read(name)
            if not hmac.compare_digest(stated.get("SHA-256", ""), hashlib.sha256(data).hexdigest()):
                problems.append(f"Prüfsumme von {name} stimmt nicht")
            if stated.get("Dateigroesse") != str(len(data)):
                problems.append(f"Größe von {name} stimmt nicht")
    for extra in sorted(set(names) - named - {messages[0]}):
        problems.append(f"Datei {extra} ist in der Nachricht nicht genannt")
    return (TRANSFER_ERROR if problems else SUCCESS), pid, problems, root


def build_eakte_router(*, token: str = "") -> APIRouter:
    """A fresh E-Akte with its own memory; ``token`` (if set) is the Bearer token it accepts."""
    filed: dict[str, Filed] = {}
    lock = threading.Lock()
    router = APIRouter(tags=["E-Akte (Sandbox)"])

    def answer(pid: str, code: str, note: str, status: int) -> Response:
        xml = acknowledgement(
            pid,
            code,
            sender=NAME,
            recipient="Knopfdruck",
            note=note[:400],
            at=datetime.now(UTC),
        )
        return Response(xml, status_code=status, media_type="application/xml")

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.post("/messages")
    async def receive(request: Request) -> Response:
        if token:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        header_pid = request.headers.get("x-xdomea-prozessid", "")
        try:
            header_pid = str(uuid.UUID(header_pid))
        except ValueError:
            header_pid = ""
        code, pid, problems, root = _problems(body)
        if code != SUCCESS:
            return answer(pid or header_pid, code, "; ".join(problems), 422)
        ns = {"x": NS}
        with lock:
            known = filed.get(pid)
            if known is not None:
                known.deliveries += 1
                return answer(pid, ALREADY_PROCESSED, f"bereits abgelegt: {known.reference}", 200)
            entry = Filed(
                process_id=pid,
                case_id=root.findtext(".//x:FachverfahrenObjektID", namespaces=ns) or "",
                reference=root.findtext(
                    ".//x:Vorgang/x:AllgemeineMetadaten/x:Kennzeichen", namespaces=ns
                )
                or "",
                documents=[d.text or "" for d in root.iter(f"{{{NS}}}Dateiname")],
                filed_at=datetime.now(UTC),
            )
            filed[pid] = entry
        return answer(pid, SUCCESS, f"abgelegt im Vorgang {entry.reference}", 200)

    def as_json(entry: Filed) -> dict[str, Any]:
        return {
            "process_id": entry.process_id,
            "case_id": entry.case_id,
            "reference": entry.reference,
            "documents": entry.documents,
            "filed_at": entry.filed_at.isoformat(),
            "deliveries": entry.deliveries,
        }

    @router.get("/messages")
    def listing() -> list[dict[str, Any]]:
        with lock:
            return [as_json(e) for e in filed.values()]

    @router.get("/messages/{process_id}")
    def one(process_id: str) -> Response:
        with lock:
            entry = filed.get(process_id)
        if entry is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(as_json(entry))

    return router


__all__ = ["build_eakte_router"]
