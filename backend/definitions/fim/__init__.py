"""`knopfdruck services import-fim`: a FIM XDatenfelder schema becomes a definition skeleton.

Reads a Stammdatenschema or a Datenfeldgruppe in XDatenfelder 2.0 or 3.0 and writes a
service.yaml in which everything FIM cannot know (English texts, LeiKa key, department,
purposes and legal bases of registry reads, code-list values) is a value starting with TODO.
`services validate` reports each remaining TODO with its line, so the skeleton cannot go live
half finished. FIM's structure maps as follows:

- top-level Datenfeldgruppen become topics (one portal page each); nested groups are flattened
  into their top-level group, and their labels disambiguate repeated field names;
- Datenfelder become fields: datentyp and feldart give the type, anzahl the required flag
  (a field is required only if it and every enclosing group have a minimum of at least 1);
- code lists become choice options (inline XDF 3 values) or marked TODOs (referenced lists);
- maxLength and minLength become max_length and min_length of text fields; minValue and
  maxValue become min/max of numbers and not_before/not_after of dates, and pattern a pattern
  whose description for the citizen is a TODO;
- constraints (praezisierung), repetition (anzahl above 1), FIM rules and the FIM ids stay as
  comments next to the field, since the definition format has no keys for the rest of them;
- well-known fields (names, date and place of birth, address) and XDF 3 ``vorbefuellung``
  become proposed data needs, for the integrator to confirm or delete.

The XML is parsed with defusedxml: a schema file from outside must not be able to read local
files or exhaust memory through entity declarations (XXE, billion laughs).
"""

from backend.definitions.fim.mapping import LONG_TEXT, WELL_KNOWN_CONNECTOR, identifier, slug_for
from backend.definitions.fim.reading import (
    NAMESPACES,
    FimDocument,
    FimField,
    FimGroup,
    FimImportError,
    parse_fim,
)
from backend.definitions.fim.skeleton import import_fim, to_definition_yaml

__all__ = [
    "LONG_TEXT",
    "NAMESPACES",
    "WELL_KNOWN_CONNECTOR",
    "FimDocument",
    "FimField",
    "FimGroup",
    "FimImportError",
    "identifier",
    "import_fim",
    "parse_fim",
    "slug_for",
    "to_definition_yaml",
]
