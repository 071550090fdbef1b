"""Database errors turned into the core's: SQLAlchemy's and stdlib ``sqlite3``'s, with
the same messages (the driver's first line, the URL masked), a lock held by another
writer as a conflict, and transactions the database aborted on its own as
:class:`TransientError` (worth retrying).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from whalefall_sched.errors import StoreConflictError, StoreSystemError, WhaleFallSchedError
from whalefall_sched.masking import redact

if TYPE_CHECKING:
    from whalefall_sched.repository.connection import StoreConnection

#: Fragments of driver messages for transactions the database aborted on its own.
_TRANSIENT = (
    "deadlock",  # PostgreSQL 40P01, MySQL/MariaDB 1213
    "lock timeout",  # PostgreSQL 55P03 (lock_timeout)
    "could not serialize",  # PostgreSQL 40001
    "lock wait timeout",  # MySQL/MariaDB 1205
)


class TransientError(StoreConflictError):
    """The database aborted a transaction that is worth retrying (deadlock, serialization)."""


@contextmanager
def sqlalchemy_errors(conn: StoreConnection) -> Iterator[None]:
    """Turn database errors into the core's errors, with the URL masked."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    try:
        yield
    except WhaleFallSchedError:
        raise
    except DBAPIError as exc:
        raise driver_error(conn, exc.orig, exc) from exc
    except SQLAlchemyError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreSystemError(f"job store {conn.where}: {redact(first, conn.url)}") from exc


@contextmanager
def sqlite3_errors(conn: StoreConnection) -> Iterator[None]:
    """:func:`sqlalchemy_errors` for stdlib ``sqlite3`` connections: the same errors, the
    same messages (SQLAlchemy's are made from the driver's own)."""
    import sqlite3

    try:
        yield
    except WhaleFallSchedError:
        raise
    except sqlite3.Error as exc:
        raise driver_error(conn, exc, exc) from exc


def driver_error(conn: StoreConnection, orig: object, exc: BaseException) -> WhaleFallSchedError:
    """The core's error for a driver's exception ``orig`` (raised as ``exc``) on ``conn``:
    its first line, URL masked."""
    lines = str(orig).strip().splitlines() if orig is not None else []
    detail = redact(lines[0] if lines else type(orig or exc).__name__, conn.url)
    if "database is locked" in detail:
        return StoreConflictError(
            f"job store {conn.where} stayed locked by another writer for "
            f"{conn.timeout:g}s; nothing written, try again"
        )
    if any(fragment in detail.lower() for fragment in _TRANSIENT):
        return TransientError(f"job store {conn.where}: {detail}")
    return StoreSystemError(
        f"job store {conn.where}: {detail} (check the server, {conn.url_option} and --timeout)"
    )
