"""Database engine and the unit of work: the one boundary where commits happen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from backend.settings import Settings


ACTING_TENANT: ContextVar[str | None] = ContextVar("knopfdruck_acting_tenant", default=None)
"""The tenant a clerk's request acts for ('-' for the home tenant; None outside clerk requests).

Every transaction of such a request sets it as `knopfdruck.tenant` on PostgreSQL, where the
row-level security policies of revision 0021 hide other tenants' cases and drafts: a second
wall behind the department filters (docs/tenants.md). Workers and citizens' requests set
nothing and see what their own filters select."""


def tenant_wall_value(department: str) -> str:
    """The wall's value for a clerk's department key: its tenant, or '-' for the home one."""
    prefix, dot, _office = department.partition(".")
    return prefix if dot else "-"


@event.listens_for(OrmSession, "after_begin")
def _tenant_wall(_session: OrmSession, _tx: SessionTransaction, connection: Connection) -> None:
    tenant = ACTING_TENANT.get()
    if tenant is not None and connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "SELECT set_config('knopfdruck.tenant', %(tenant)s, true)", {"tenant": tenant}
        )


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def build_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pre_ping: bool = True
) -> Engine:
    """Create the engine; SQLite gets WAL and a busy timeout so the in-process worker can write.

    Bound parameters are hidden from every SQLAlchemy error: they are citizens' answers, and an
    error's text ends up in logs and tracebacks (issue 14, item 3).
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        db_path = make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        # Without the ping, a connection the server dropped fails once; SQLAlchemy then
        # discards every connection of the pool opened before, and a retried step gets fresh
        # ones. Recycling after an hour keeps idle connections from dying in a firewall.
        pool_pre_ping=pre_ping,
        pool_recycle=3600,
        pool_size=pool_size,
        max_overflow=max_overflow,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _no_jit(dbapi_conn: Any, _record: Any) -> None:
        # PostgreSQL's JIT compiles any query its planner costs high; the console's worklist
        # count is costed far above what it does and spent half its time compiling
        # (docs/performance.md). Our queries are short OLTP reads: JIT only adds latency.
        cursor = dbapi_conn.cursor()
        cursor.execute("SET jit = off")
        cursor.close()
        dbapi_conn.commit()

    return engine


def engine_for(settings: Settings) -> Engine:
    """A process's engine, its pool sized by the operator: every process's pools share one
    PostgreSQL's max_connections."""
    return build_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pre_ping=settings.db_pre_ping,
    )


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
