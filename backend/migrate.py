"""Schema upgrades: our tables through Alembic, the durable-execution tables through DBOS."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from backend.db import normalise_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return cfg


def upgrade_database(database_url: str) -> None:
    """Bring our schema and the DBOS system schema to the newest version; safe to run twice."""
    from dbos import DBOS

    # "heads": parallel branches of work may each add a revision on top of the same parent.
    command.upgrade(alembic_config(database_url), "heads")
    DBOS.migrate(normalise_url(database_url), schema="dbos")
    from backend.db import build_engine
    from backend.queue_wake import install_trigger

    # Idle workers are woken by a notification when work is queued (PostgreSQL; issue 22).
    engine = build_engine(database_url, pool_size=1, max_overflow=0)
    try:
        install_trigger(engine)
    finally:
        engine.dispose()
    # Derived data a revision adds empty: the dashboard's decision facts (0015) of cases
    # decided before it. Idempotent, and one cheap query when nothing is missing.
    from backend.records.kpi_facts import backfill

    engine = build_engine(database_url, pool_size=1, max_overflow=0)
    try:
        backfill(engine)
    finally:
        engine.dispose()
