"""The Alembic migrations create exactly the tables the models declare: none forgotten."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import backend.all_models  # noqa: F401
from backend.db import build_engine
from backend.migrate import upgrade_database


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade_database(url)
    engine = build_engine(url)
    ours = set(SQLModel.metadata.tables)

    def include(
        obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        # DBOS's own tables share the SQLite file; they are not ours to compare.
        return not (type_ == "table" and reflected and name not in ours)

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include})
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models differ from migrations; add a revision: {diff}"


def test_the_history_has_one_head() -> None:
    """Parallel work adds revisions side by side; a merge revision must join them before
    release, so every installation is on the same, single line of history."""
    from alembic.script import ScriptDirectory

    from backend.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several heads, add a merge revision: {heads}"
