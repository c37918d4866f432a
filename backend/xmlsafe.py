"""One hardened way to read XML from outside (bank statements, E-Akte answers, XZuFi files).

Every edge that reads a partner's XML parses it here, so the rules are written once: no DTD
(which closes entity expansion, external entities and the "billion laughs" family), no network,
no huge trees, no comments or processing instructions in the tree that is handed on. lxml is
used rather than a parser of our own (README: "XML").
"""

from __future__ import annotations

from typing import Any

from lxml import etree

#: A partner's XML larger than this is refused before it is parsed.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class UnsafeXml(ValueError):
    """The XML is not well-formed, too large, or declares a DTD: nothing of it is read."""


def parser() -> etree.XMLParser:
    """A parser that never loads, resolves or fetches anything the document points at."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """The root element of untrusted XML; raises UnsafeXml for a DTD, bad syntax or size."""
    if len(data) > max_bytes:
        raise UnsafeXml(f"document larger than {max_bytes} bytes")
    try:
        root = etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc.msg}") from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # No standard we read declares a DTD; an unexpanded entity would also break validators.
        raise UnsafeXml("a document type declaration (DTD) is not allowed")
    return root


def load_schema(path: str) -> etree.XMLSchema:
    """A trusted XSD from our own tree, read with the same parser (its imports are local files)."""
    return etree.XMLSchema(etree.parse(path, parser()))
