"""Database engines for SQLite (WAL, embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from insitu.errors import InvalidInput

WRITE_OPTION = "insitu_write"


def _normalise(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        return str(u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``: ``sqlite:///path`` or ``postgresql://...``.

    SQLite runs in WAL mode with a busy timeout; a transaction begun on
    ``engine.execution_options(insitu_write=True)`` takes the write lock at
    once (``BEGIN IMMEDIATE``) so concurrent writers queue instead of failing.
    """
    try:
        u = make_url(url)
    except Exception:
        raise InvalidInput(f"not a database URL: {url!r}") from None
    if u.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the lock up front. Readers run each statement in
            # autocommit mode: in WAL mode every statement sees a consistent
            # snapshot, and skipping BEGIN/COMMIT halves the cost of a poll.
            if conn.get_execution_options().get(WRITE_OPTION, False):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if u.get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise InvalidInput(
                "PostgreSQL needs the psycopg driver: pip install 'insitu[postgres]'"
            ) from None
        return create_engine(_normalise(url), pool_size=20, max_overflow=20, pool_pre_ping=True)
    raise InvalidInput(f"unsupported database {u.get_backend_name()!r}: use sqlite or postgresql")
