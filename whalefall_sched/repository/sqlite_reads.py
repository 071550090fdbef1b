"""Reads of a SQLite store through stdlib ``sqlite3``, without SQLAlchemy.

Used by :class:`.store.JobStoreRepository` for every read of a plain ``sqlite:///``
URL (:meth:`.connection.StoreConnection.plain_sqlite_file`); writes, other SQLite URLs
and servers go through SQLAlchemy. The guarantees are those of the SQLAlchemy read path,
statement for statement:

- the file is opened by URI with ``mode=ro`` (never created), an idle WAL-mode file
  with ``immutable=1`` (no ``-wal``/``-shm`` files appear);
- past a hot journal or an unfinished WAL, the query runs on a private recovered copy
  (:func:`.sqlite_files.private_copy`);
- the table is looked up as SQLAlchemy's ``has_table`` does (``PRAGMA main.table_info``),
  never created;
- columns come back exactly as stored (text that is not UTF-8 with its bad bytes as
  lone surrogates, as :func:`.rows.fetch` reads it);
- driver errors become the core's errors with the same messages
  (:meth:`.connection.StoreConnection.sqlite3_errors`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from whalefall_sched.errors import StoreSystemError
from whalefall_sched.repository.rows import StoredJob, decode_row, decode_rows, printable_id
from whalefall_sched.repository.sqlite_files import (
    hot_journal,
    idle_wal_database,
    private_copy,
    unfinished_wal,
)

_T = TypeVar("_T")

#: Rows fetched (and decoded) at a time while streaming.
CHUNK = 500


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def connect_ro(path: Path, timeout: float) -> sqlite3.Connection:
    """The file opened read-only by URI, exactly as the ``ro`` engine opens it."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if idle_wal_database(path):
        # A read-only connection to a WAL database that nobody has open would
        # create -wal and -shm files; with nobody to change it, read it as is.
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout)
    conn.text_factory = _lenient_text
    return conn


def read(
    path: Path,
    timeout: float,
    query: Callable[[sqlite3.Connection], _T],
    errors: Callable[[], AbstractContextManager[None]],
) -> _T:
    """Run ``query`` on a read-only connection; past a crashed writer, on a recovered copy."""
    if unfinished_wal(path):
        return read_copy(path, query, errors)
    try:
        with errors():
            conn = connect_ro(path, timeout)
            try:
                return query(conn)
            finally:
                conn.close()
    except StoreSystemError as exc:
        if not (hot_journal(path) and isinstance(exc.__cause__, sqlite3.OperationalError)):
            raise
        return read_copy(path, query, errors)


def read_copy(
    path: Path,
    query: Callable[[sqlite3.Connection], _T],
    errors: Callable[[], AbstractContextManager[None]],
) -> _T:
    """Run ``query`` on a private copy of the file and its journal, recovered there."""
    with private_copy(path) as copy, errors():
        conn = sqlite3.connect(str(copy))
        conn.text_factory = _lenient_text
        try:
            return query(conn)
        finally:
            conn.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    """Whether the job table exists, asked as SQLAlchemy's ``has_table`` asks it."""
    return bool(conn.execute(f"PRAGMA main.table_info({_quote(table)})").fetchall())


def _columns(table: str) -> str:
    return f"SELECT id, next_run_time, job_state FROM {_quote(table)}"  # noqa: S608 - quoted


def select_rows(conn: sqlite3.Connection, table: str, job_id: str | None = None) -> list[StoredJob]:
    """Every row (or the one with ``job_id``), decoded, in id order: :func:`.rows.select_rows`."""
    query = _columns(table)
    if job_id is None:
        return decode_rows(conn.execute(f"{query} ORDER BY id"))
    rows = [
        r for r in conn.execute(f"{query} WHERE id = ? ORDER BY id", (job_id,)) if r[0] == job_id
    ]
    if not rows:
        # an id column that is not UTF-8 text, named by its printable form
        rows = [
            r
            for r in conn.execute(f"{query} ORDER BY id")
            if r[0] != job_id and printable_id(r[0]) == job_id
        ]
    return [decode_row(*r) for r in rows]


def ids_and_paused(conn: sqlite3.Connection, table: str) -> list[tuple[Any, bool]]:
    """Each row's id column as stored and whether its ``next_run_time`` is NULL, in id
    order; nothing decoded.

    Both come from indexes stock APScheduler creates (the primary key's and
    ``next_run_time``'s), so the pages holding ``job_state`` are never read.
    """
    t = _quote(table)
    paused = {r[0] for r in conn.execute(f"SELECT rowid FROM {t} WHERE next_run_time IS NULL")}  # noqa: S608
    ids = conn.execute(f"SELECT rowid, id FROM {t} ORDER BY id").fetchall()  # noqa: S608
    return [(job_id, rowid in paused) for rowid, job_id in ids]


def _filter(paused: bool | None) -> str:
    if paused is None:
        return ""
    return " WHERE next_run_time IS NULL" if paused else " WHERE next_run_time IS NOT NULL"


def candidates(conn: sqlite3.Connection, table: str, paused: bool | None) -> list[int]:
    """The rowids of the rows to list, sorted as the service sorts jobs (printable id)."""
    sql = f"SELECT rowid, id FROM {_quote(table)}{_filter(paused)} ORDER BY id"  # noqa: S608
    found = conn.execute(sql).fetchall()
    found.sort(key=lambda r: printable_id(r[1]))
    return [rowid for rowid, _ in found]


def stream_rows(conn: sqlite3.Connection, table: str, rowids: list[int]) -> Iterator[StoredJob]:
    """The rows with ``rowids``, decoded, in that order, ``CHUNK`` at a time.

    Each chunk is one statement: no read lock is held between chunks, so a writer (a
    live scheduler) is never kept waiting for the whole listing. A row deleted
    meanwhile is left out.
    """
    base = f"SELECT rowid, id, next_run_time, job_state FROM {_quote(table)}"  # noqa: S608
    for start in range(0, len(rowids), CHUNK):
        chunk = rowids[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        by_rowid = {r[0]: r[1:] for r in conn.execute(f"{base} WHERE rowid IN ({marks})", chunk)}
        yield from decode_rows(by_rowid[rowid] for rowid in chunk if rowid in by_rowid)
