"""Alembic environment: the URL comes from the caller's config, never from the environment here."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import backend.all_models  # noqa: F401  (registers every table on SQLModel.metadata)
from backend.db import build_engine

config = context.config
target_metadata = SQLModel.metadata


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """DBOS owns its own tables (schema ``dbos`` or, on SQLite, the same file): leave them alone."""
    if type_ == "table" and reflected and compare_to is None:
        return name in target_metadata.tables
    return True


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "knopfdruck db upgrade passes the database URL"
    engine = build_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=_include,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
