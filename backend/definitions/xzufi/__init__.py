"""XZuFi 2.2: the catalogue as Leistungen for the portal network, and Leistungen read back as
definition skeletons. One place for the standard (docs/standards/xzufi.md); the output is
checked against Knopfdruck's own transcription of the schema, not yet the official XSD."""

from backend.definitions.xzufi.codes import NS, VERSION, TextModule
from backend.definitions.xzufi.reading import (
    XzufiImportError,
    XzufiLeistung,
    import_xzufi,
    parse_leistung,
    to_definition_yaml,
)
from backend.definitions.xzufi.schema import SCHEMA_FILE, XzufiInvalid, check, problems
from backend.definitions.xzufi.writing import (
    Publisher,
    XzufiIncomplete,
    catalogue_message,
    missing,
)

__all__ = [
    "NS",
    "SCHEMA_FILE",
    "VERSION",
    "Publisher",
    "TextModule",
    "XzufiImportError",
    "XzufiIncomplete",
    "XzufiInvalid",
    "XzufiLeistung",
    "catalogue_message",
    "check",
    "import_xzufi",
    "missing",
    "parse_leistung",
    "problems",
    "to_definition_yaml",
]
