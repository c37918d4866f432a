"""Notices and certificates: Jinja2 templates rendered to archivable PDF/A-3a."""

from backend.documents.render import (
    SHARED_TEMPLATES_DIR,
    NoticeRenderer,
    RenderError,
    TemplateResourceFetcher,
    date_de,
    money_de,
)

__all__ = [
    "SHARED_TEMPLATES_DIR",
    "NoticeRenderer",
    "RenderError",
    "TemplateResourceFetcher",
    "date_de",
    "money_de",
]
