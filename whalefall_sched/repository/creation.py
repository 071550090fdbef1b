"""Creating a store for ``init``: the only code that creates a job table.

:func:`creation` says what would be created and refuses an existing job table, even an
empty one; :func:`create_store` creates it (with a SQLite store's directory and file,
through the ``rwc`` engine) and writes the first rows, and drops what it created when
that write fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from whalefall_sched.errors import StoreConflictError, StoreSystemError, WhaleFallSchedError
from whalefall_sched.repository import audit, reads, writes
from whalefall_sched.repository.audit import AuditEntry
from whalefall_sched.repository.rows import StoredJob

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from whalefall_sched.repository.audit_trail import AuditTrail
    from whalefall_sched.repository.connection import StoreConnection


@dataclass(frozen=True)
class StoreCreation:
    """What :func:`create_store` creates (or would create)."""

    #: The SQLite store's missing directories, outermost first.
    directories: list[Path]
    #: The SQLite store file, when it does not exist yet.
    file: Path | None
    #: The job table (``schema.table`` with a schema).
    table: str
    #: The rows written into it.
    written: list[StoredJob] = field(default_factory=list)


def already_exists(conn: StoreConnection) -> StoreConflictError:
    """The refusal of ``init`` on an existing job table."""
    path = conn.sqlite_path()
    where = f"{path.absolute()} (table {conn.table_name})" if path else conn.where
    return StoreConflictError(
        f"a job store already exists at {where}; nothing changed "
        "(`whalefall-sched reload` re-registers the default jobs)"
    )


def creation(conn: StoreConnection) -> StoreCreation:
    """What :func:`create_store` would create; refuses (conflict) when the job table
    exists, even empty. Creates nothing."""
    if reads.exists(conn):
        raise already_exists(conn)
    qualified = f"{conn.schema}.{conn.table_name}" if conn.schema else conn.table_name
    path = conn.sqlite_path()
    if path is None:
        return StoreCreation([], None, qualified)
    path = path.absolute()
    missing = [d for d in reversed(path.parents) if not d.exists()]
    return StoreCreation(missing, None if path.exists() else path, qualified)


def create_store(
    conn: StoreConnection,
    trail: AuditTrail,
    rows: Sequence[StoredJob],
    *,
    event: AuditEntry | None = None,
) -> StoreCreation:
    """Create the job table, as stock ``SQLAlchemyJobStore`` does on start (and a
    SQLite store's directory and file), and write ``rows`` into it.

    Refuses (conflict, nothing changed) when the job table exists, even empty. On
    PostgreSQL the table and its rows are one transaction; where the database commits
    the ``CREATE TABLE`` on its own (SQLite, MariaDB), a failed write drops the table it
    just created. With ``event``, the audit table is created too and the event written
    with the rows (through ``trail``).
    """
    plan = creation(conn)
    new = list(rows)
    engine = conn.engine("rwc")  # creates the SQLite directory and file
    created = False
    try:
        with conn.errors(), engine.begin() as c:
            if conn.has_table(c):  # created meanwhile by another process
                raise already_exists(conn)
            conn.table.create(c)
            created = True
            writes.replace_rows(c, conn.table, [], new)
            if event is not None:
                audit.create_in(c, conn.schema)
                ids = [row.id for row in new]
                trail.append(c, event, ids, audit.DONE, {"registered": len(ids)})
    except Exception as exc:
        if created:
            _drop_created_table(conn, engine)
        elif isinstance(exc, StoreSystemError) and reads.exists_now(conn):
            raise already_exists(conn) from exc  # another process created it first
        if isinstance(exc, writes.LostRaceError):
            raise StoreConflictError(
                f"job store {conn.where} was written by another process while being "
                "created; nothing written, try again"
            ) from exc
        raise
    return StoreCreation(plan.directories, plan.file, plan.table, new)


def _drop_created_table(conn: StoreConnection, engine: Engine) -> None:
    """Best effort: drop the table :func:`create_store` made before its write failed
    (where the database had committed the ``CREATE TABLE`` on its own), unless
    another process has written rows into it meanwhile."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    with contextlib.suppress(SQLAlchemyError, WhaleFallSchedError), conn.errors():
        with engine.begin() as c:
            if not conn.has_table(c):
                return  # rolled back with the write (PostgreSQL)
            if c.execute(select(func.count()).select_from(conn.table)).scalar_one():
                return  # someone else's rows: theirs to keep
        conn.table.drop(engine, checkfirst=True)
