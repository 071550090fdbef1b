"""Reading the job table: every row, one row, ids and states, or rows streamed in order.

Functions over a :class:`.connection.StoreConnection`. A plain ``sqlite:///`` store is
read through stdlib ``sqlite3`` (:mod:`.sqlite_reads`, no SQLAlchemy); any other store
through a read-only SQLAlchemy connection (:meth:`.StoreConnection.read_only`). Reads
never create, alter or delete anything: a missing store is the not-initialised conflict.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from whalefall_sched.errors import JobNotFoundError, StoreSystemError, WhaleFallSchedError
from whalefall_sched.repository import sqlite_reads
from whalefall_sched.repository.rows import (
    StoredJob,
    decode_rows,
    fetch,
    printable_id,
    select_rows,
)
from whalefall_sched.repository.sqlite_files import hot_journal, unfinished_wal

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Connection

    from whalefall_sched.repository.connection import StoreConnection

_T = TypeVar("_T")


def read(conn: StoreConnection, query: Callable[[Connection], _T]) -> _T:
    """Run ``query`` on a read-only connection; never write the store
    (:meth:`.connection.StoreConnection.read_only`)."""
    return conn.read_only(query)


def read_sqlite3(
    conn: StoreConnection, path: Path, query: Callable[[sqlite3.Connection], _T]
) -> _T:
    """:func:`read` for a plain SQLite file, through stdlib ``sqlite3``."""
    return sqlite_reads.read(path, conn.timeout, query, conn.sqlite3_errors)


def existing_file(conn: StoreConnection) -> Path | None:
    """A plain SQLite store's file, or None for other stores; a missing file raises
    the not-initialised conflict (it is never created)."""
    path = conn.plain_sqlite_file()
    if path is not None and not path.exists():
        raise conn.not_initialised()
    return path


def exists(conn: StoreConnection) -> bool:
    """Whether the store (file and table) exists. Creates nothing."""
    path = conn.sqlite_path()
    if path is not None and not path.exists():
        return False
    plain = conn.plain_sqlite_file()
    if plain is not None:
        name = conn.table_name
        return read_sqlite3(conn, plain, lambda c: sqlite_reads.has_table(c, name))
    return read(conn, conn.has_table)


def exists_now(conn: StoreConnection) -> bool:
    """Whether the store exists, False when that cannot be told either."""
    try:
        return exists(conn)
    except WhaleFallSchedError:
        return False


def require_store(conn: StoreConnection) -> None:
    """Raise the not-initialised conflict (naming the path or table looked at) unless
    the job table exists. Creates nothing."""
    if not exists(conn):
        raise conn.not_initialised()


def not_found(conn: StoreConnection, job_id: str) -> JobNotFoundError:
    """The error for an id the store does not hold."""
    return JobNotFoundError(
        f"job {job_id!r} not found in {conn.where}; `whalefall-sched list` shows the ids"
    )


def list_jobs(conn: StoreConnection, *, missing_ok: bool = False) -> list[StoredJob]:
    """Every row. A missing store raises a conflict unless ``missing_ok``."""
    path = conn.sqlite_path()
    if path is not None and not path.exists():
        if missing_ok:
            return []
        raise conn.not_initialised()
    name = conn.table_name
    rows: list[StoredJob] | None
    plain = conn.plain_sqlite_file()
    if plain is not None:

        def query3(c: sqlite3.Connection) -> list[StoredJob] | None:
            if not sqlite_reads.has_table(c, name):
                return None
            return sqlite_reads.select_rows(c, name)

        rows = read_sqlite3(conn, plain, query3)
    else:

        def query(c: Connection) -> list[StoredJob] | None:
            return select_rows(c, conn.table) if conn.has_table(c) else None

        rows = read(conn, query)
    if rows is None:
        if missing_ok:
            return []
        raise conn.not_initialised()
    return rows


def get_job(conn: StoreConnection, job_id: str) -> StoredJob:
    """The row with ``job_id``; raises :class:`JobNotFoundError`."""
    plain = existing_file(conn)
    name = conn.table_name
    rows: list[StoredJob] | None
    if plain is not None:

        def query3(c: sqlite3.Connection) -> list[StoredJob] | None:
            if not sqlite_reads.has_table(c, name):
                return None
            return sqlite_reads.select_rows(c, name, job_id)

        rows = read_sqlite3(conn, plain, query3)
    else:

        def query(c: Connection) -> list[StoredJob] | None:
            return select_rows(c, conn.table, job_id) if conn.has_table(c) else None

        rows = read(conn, query)
    if rows is None:
        raise conn.not_initialised()
    if not rows:
        raise not_found(conn, job_id)
    return rows[0]


def job_ids_and_states(conn: StoreConnection) -> list[tuple[str, bool]]:
    """Each job's (printable) id and whether it is paused (``next_run_time`` NULL),
    sorted by id; nothing decoded, so a row that cannot be decoded is listed too.

    Cheap enough for shell completion: one SELECT of two columns, and for a plain
    SQLite store no SQLAlchemy.
    """
    plain = existing_file(conn)
    name = conn.table_name
    raw: list[tuple[Any, bool]] | None
    if plain is not None:

        def query3(c: sqlite3.Connection) -> list[tuple[Any, bool]] | None:
            if not sqlite_reads.has_table(c, name):
                return None
            return sqlite_reads.ids_and_paused(c, name)

        raw = read_sqlite3(conn, plain, query3)
    else:
        from sqlalchemy import select

        def query(c: Connection) -> list[tuple[Any, bool]] | None:
            if not conn.has_table(c):
                return None
            t = conn.table
            rows = fetch(c, select(t.c.id, t.c.next_run_time).order_by(t.c.id))
            return [(job_id, when is None) for job_id, when in rows]

        raw = read(conn, query)
    if raw is None:
        raise conn.not_initialised()
    # sorted here too: MariaDB's default collation ignores case
    return sorted(((printable_id(i), paused) for i, paused in raw), key=lambda r: r[0])


def replaced_rows(conn: StoreConnection) -> list[StoredJob]:
    """The rows a replacement would remove, for a preview: read-only, columns checked
    but not decoded (a replacement needs ids, not states). A store that does not exist
    is the not-initialised conflict, as for the replacement itself."""
    require_store(conn)

    def query(c: Connection) -> list[StoredJob]:
        if not conn.has_table(c):  # dropped since
            raise conn.not_initialised()
        return select_rows(c, conn.table, decode=False)

    return read(conn, query)


# -- streaming (iter_jobs) -------------------------------------------------------------


def iter_jobs(
    conn: StoreConnection,
    *,
    paused: bool | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[StoredJob]:
    """The rows sorted by (printable) id, decoded as they are consumed.

    ``paused`` keeps only rows whose ``next_run_time`` column is NULL (True) or not
    (False), filtered in SQL before anything is decoded; ``offset`` and ``limit``
    slice the sorted rows before they are read. Which rows there are is read at once
    (a missing store raises here); their columns are then read and decoded a chunk at
    a time, so memory does not grow with the table.
    """
    plain = existing_file(conn)
    stop = None if limit is None else offset + limit
    if plain is None:
        return _iter_server_jobs(conn, paused, offset, stop)
    name = conn.table_name
    if unfinished_wal(plain):
        return _iter_all(conn, paused, offset, stop)
    try:
        with conn.sqlite3_errors():
            c = sqlite_reads.connect_ro(plain, conn.timeout)
            if not sqlite_reads.has_table(c, name):
                c.close()
                raise conn.not_initialised()
            rowids = sqlite_reads.candidates(c, name, paused)[offset:stop]
    except StoreSystemError as exc:
        from sqlite3 import OperationalError

        if not (hot_journal(plain) and isinstance(exc.__cause__, OperationalError)):
            raise
        return _iter_all(conn, paused, offset, stop)

    def stream() -> Iterator[StoredJob]:
        try:
            with conn.sqlite3_errors():
                yield from sqlite_reads.stream_rows(c, name, rowids)
        finally:
            c.close()

    return stream()


def _iter_all(
    conn: StoreConnection, paused: bool | None, offset: int, stop: int | None
) -> Iterator[StoredJob]:
    """:func:`iter_jobs` from every row read at once (a recovered copy, or SQLite
    through SQLAlchemy, whose odd column values cannot be matched back in chunks)."""
    rows = [
        job for job in list_jobs(conn) if paused is None or (job.next_run_time is None) == paused
    ]
    rows.sort(key=lambda job: job.id)
    return iter(rows[offset:stop])


def _iter_server_jobs(
    conn: StoreConnection, paused: bool | None, offset: int, stop: int | None
) -> Iterator[StoredJob]:
    """:func:`iter_jobs` on a server: the ids first, then the rows a chunk at a time."""
    if conn.sqlite_path() is not None or conn.parsed_url().drivername.startswith("sqlite"):
        return _iter_all(conn, paused, offset, stop)
    from sqlalchemy import select

    t = conn.table

    def ids(c: Connection) -> list[Any] | None:
        if not conn.has_table(c):
            return None
        query = select(t.c.id)
        if paused is not None:
            when = t.c.next_run_time
            query = query.where(when.is_(None) if paused else when.is_not(None))
        return [r[0] for r in fetch(c, query.order_by(t.c.id))]

    found = read(conn, ids)
    if found is None:
        raise conn.not_initialised()
    # Sorted here, not by the database: MariaDB's default collation ignores case.
    found.sort(key=printable_id)
    wanted = found[offset:stop]

    def chunk_rows(chunk: list[Any]) -> Callable[[Connection], list[StoredJob]]:
        def query(c: Connection) -> list[StoredJob]:
            columns = select(t.c.id, t.c.next_run_time, t.c.job_state)
            # exact ids only: a case-insensitive collation matches 'A' for 'a'
            by_id = {r[0]: r for r in fetch(c, columns.where(t.c.id.in_(chunk)))}
            return decode_rows(by_id[i] for i in chunk if i in by_id)

        return query

    def stream() -> Iterator[StoredJob]:
        it = iter(wanted)
        while chunk := list(itertools.islice(it, sqlite_reads.CHUNK)):
            yield from read(conn, chunk_rows(chunk))

    return stream()
