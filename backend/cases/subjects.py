"""Whose data a row is about: a citizen is known by their portal account and, once identified at
the counter, by a pseudonym derived from their Identifikationsnummer (§ 139b AO)."""

from __future__ import annotations

import hashlib

from backend.auth.tokens import Identity


def counter_pseudonym(idnr: str) -> str:
    """A stable subject id for a person identified at the counter; never the IdNr itself."""
    return "counter-" + hashlib.sha256(f"knopfdruck-counter:{idnr}".encode()).hexdigest()[:40]


def subject_subs(identity: Identity) -> list[str]:
    """Every subject id under which rows about this citizen are kept.

    Registry reads made at the counter are logged for the person identified there (by IdNr),
    whether or not a portal account was linked, so the data cockpit (§ 10 OZG) of a login that
    carries the IdNr shows them too.
    """
    subs = [identity.sub]
    if identity.idnr and not identity.is_clerk:
        subs.append(counter_pseudonym(identity.idnr))
    return subs
