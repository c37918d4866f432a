"""Service definitions: the format integrators write, its loader and validator, the catalogue."""

from backend.definitions.catalogue import Catalogue, load_catalogue
from backend.definitions.loader import LoadedDefinition, load_definition, load_tree, validate_tree
from backend.definitions.models import ServiceDefinition, definition_json_schema

__all__ = [
    "Catalogue",
    "LoadedDefinition",
    "ServiceDefinition",
    "definition_json_schema",
    "load_catalogue",
    "load_definition",
    "load_tree",
    "validate_tree",
]
