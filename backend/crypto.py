"""Column-level encryption of sensitive values (income, IBAN, tax id) inside our JSON columns.

Applications, cases and decisions keep their values in JSON columns (`answers`, `prefill`,
`data`, `decision`). `SensitiveJSON` is that JSON type with one addition: before a document is
written, the value under every key that names a sensitive field (see `is_sensitive`) is
replaced by `{"$enc": "<Fernet token>"}`; after reading, it is put back. Everything else stays
plain JSON, so the rest of the code and SQL reports see the same documents as before, and a
database dump, backup or replica shows no IBAN, income or tax id.

Keys: `KNOPFDRUCK_FIELD_ENCRYPTION_KEYS`, comma-separated Fernet keys (AES-128-CBC with
HMAC-SHA256, `cryptography`); the first encrypts, every key decrypts (MultiFernet). Empty: one
key generated once into the data directory (mode 0600). Rotation is described in
docs/security.md: put a new key first, keep the old ones until `rotate_documents` has
re-encrypted every row, then drop them.

The key ring is process-wide because a column type cannot see the request's context; it is
set by `build_context` (every web process, worker and CLI command builds one), and keys are
only ever added, so two contexts of one process never make each other's rows unreadable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import JSON, Engine, Table, select, type_coerce, update
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from backend.domain.text import readable
from backend.secret_files import create_once

KEY_FILE = "field-encryption.key"
MARKER = "$enc"

# Field ids are the integrators' names (German, snake_case). A key is sensitive when one of
# its words says income, bank account or tax identity. Matching names, not values, means a
# new service gets the protection without declaring it; docs/security.md lists the rule.
_SENSITIVE = re.compile(
    r"(?:^|_)(?:iban|bic|kontonummer|steuer_?id|steueridentifikationsnummer|idnr|"
    r"[a-z]*einkommen[a-z]*|einkuenfte|gehalt|lohn)(?:_|$)"
)


class FieldEncryptionError(RuntimeError):
    """Sensitive data could not be encrypted or decrypted: a missing or wrong key."""


def is_sensitive(key: str) -> bool:
    """Whether values under this JSON key are encrypted at rest."""
    return bool(_SENSITIVE.search(key.lower()))


class _KeyRing:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: list[bytes] = []
        self._fernet: MultiFernet | None = None

    def add(self, keys: list[bytes]) -> None:
        """The newest configured primary key encrypts; all keys ever added decrypt."""
        with self._lock:
            ordered = [keys[0], *(k for k in self._keys if k != keys[0])]
            ordered += [k for k in keys[1:] if k not in ordered]
            self._keys = ordered
            self._fernet = MultiFernet([Fernet(k) for k in ordered])

    @property
    def keys(self) -> list[bytes]:
        with self._lock:
            return list(self._keys)

    @property
    def primary(self) -> bytes:
        if not self._keys:
            raise FieldEncryptionError("field encryption is not configured")
        return self._keys[0]

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            raise FieldEncryptionError(
                "field encryption is not configured: build the AppContext (build_context) or "
                "call backend.crypto.configure_keys before storing applications or cases"
            )
        return self._fernet


_RING = _KeyRing()


def parse_keys(text: str) -> list[bytes]:
    """Fernet keys from the comma-separated setting; a malformed key is a clear start-up error."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            Fernet(part.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise FieldEncryptionError(
                "KNOPFDRUCK_FIELD_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64 "
                "bytes, e.g. from `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from exc
        keys.append(part.encode("ascii"))
    return keys


def keys_for(configured: str, data_dir: Path) -> list[bytes]:
    """The configured keys, or the one generated once into the data directory."""
    keys = parse_keys(configured)
    if keys:
        return keys
    return parse_keys(create_once(data_dir / KEY_FILE, Fernet.generate_key).decode("ascii"))


def configure_keys(keys: list[bytes]) -> None:
    """Make these keys known to the process (the first one encrypts from now on)."""
    if not keys:
        raise FieldEncryptionError("at least one field encryption key is required")
    _RING.add(keys)


def configured_key_ring() -> list[bytes]:
    """Every key this process knows, primary first: what a child process needs to read its data."""
    return list(_RING.keys)


def derived_key(label: str) -> bytes:
    """A key for another purpose (the search index), bound to the primary encryption key."""
    return hmac.new(_RING.primary, f"knopfdruck:{label}".encode(), hashlib.sha256).digest()


def encrypt_value(value: Any) -> dict[str, str]:
    token = _RING.fernet.encrypt(json.dumps(value, ensure_ascii=False).encode())
    return {MARKER: token.decode("ascii")}


def decrypt_value(sealed: dict[str, str]) -> Any:
    try:
        plain = _RING.fernet.decrypt(sealed[MARKER].encode("ascii"))
    except InvalidToken as exc:
        raise FieldEncryptionError(
            "an encrypted field cannot be decrypted with the configured keys "
            "(KNOPFDRUCK_FIELD_ENCRYPTION_KEYS lacks the key it was written with)"
        ) from exc
    return json.loads(plain)


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(MARKER), str)


def seal(document: Any) -> Any:
    """A copy of a JSON document with every sensitive key's value encrypted."""
    if isinstance(document, dict):
        return {
            key: (
                value
                if _is_sealed(value) or value is None
                else encrypt_value(value)
                if isinstance(key, str) and is_sensitive(key)
                else seal(value)
            )
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [seal(item) for item in document]
    return document


def unseal(document: Any) -> Any:
    """A copy of a stored JSON document with every encrypted value decrypted."""
    if _is_sealed(document):
        return decrypt_value(document)
    if isinstance(document, dict):
        return {key: unseal(value) for key, value in document.items()}
    if isinstance(document, list):
        return [unseal(item) for item in document]
    return document


def rotate_value(sealed: dict[str, str]) -> dict[str, str]:
    """Re-encrypt one value with the current primary key (MultiFernet.rotate)."""
    return {MARKER: _RING.fernet.rotate(sealed[MARKER].encode("ascii")).decode("ascii")}


class SensitiveJSON(TypeDecorator[Any]):
    """JSON whose sensitive values are Fernet-encrypted at rest (see module docstring)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        # Rows stored before the text rule may hold lone surrogates; made readable, not a 500.
        return None if value is None else readable(unseal(value))


def _rotate(document: Any) -> Any:
    """Sealed values re-encrypted with the primary key; plain sensitive values sealed."""
    if _is_sealed(document):
        return rotate_value(document)
    if isinstance(document, dict):
        return {
            key: (
                encrypt_value(value)
                if isinstance(key, str)
                and is_sensitive(key)
                and value is not None
                and not _is_sealed(value)
                else _rotate(value)
            )
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_rotate(item) for item in document]
    return document


def rotate_documents(engine: Engine, tables: Iterable[Table], *, batch: int = 500) -> int:
    """Re-encrypt every SensitiveJSON column with the current primary key; returns rows changed.

    Also seals values written before encryption existed, so it doubles as the migration of an
    old database. Safe to run while the platform runs and to run again. The caller passes every
    table (`backend.all_models.METADATA.sorted_tables`), so this module imports no domain.
    """
    changed = 0
    for table in tables:
        columns = [c for c in table.columns if isinstance(c.type, SensitiveJSON)]
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        raw = [type_coerce(c, JSON).label(c.name) for c in columns]
        with engine.connect() as conn:
            rows = conn.execute(select(*keys, *raw)).all()
        for start in range(0, len(rows), batch):
            with engine.begin() as conn:
                for row in rows[start : start + batch]:
                    values = {c.name: _rotate(row._mapping[c.name]) for c in columns}
                    if all(values[c.name] == row._mapping[c.name] for c in columns):
                        continue
                    where = [k == row._mapping[k.name] for k in keys]
                    conn.execute(
                        update(table)
                        .where(*where)
                        .values({c.name: type_coerce(values[c.name], JSON) for c in columns})
                    )
                    changed += 1
    return changed
