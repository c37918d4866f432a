"""GET /api/v1/catalogue.xzufi.xml: the catalogue as XZuFi 2.2 for the portal network (PVOG)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from backend.api.deps import ContextDep
from backend.definitions.xzufi import Publisher, XzufiIncomplete, XzufiInvalid, catalogue_message
from backend.errors import ServiceUnavailable

router = APIRouter(prefix="/api/v1", tags=["services"])
_log = logging.getLogger(__name__)


@router.get(
    "/catalogue.xzufi.xml",
    response_class=Response,
    responses={
        200: {
            "content": {"application/xml": {}},
            "description": "Every active service as an XZuFi 2.2 Leistung (our subset XSD)",
        },
        503: {"description": "A service lacks what XZuFi needs; nothing is published"},
    },
)
def catalogue_xzufi(ctx: ContextDep) -> Response:
    """The portal network reads our services here; a message that fails our checks never leaves."""
    try:
        data = catalogue_message(ctx.catalogue.all(), Publisher.from_settings(ctx.settings))
    except (XzufiIncomplete, XzufiInvalid) as exc:
        _log.error("XZuFi export refused: %s", exc)
        raise ServiceUnavailable(f"The catalogue cannot be published as XZuFi: {exc}") from None
    return Response(content=data, media_type="application/xml")
