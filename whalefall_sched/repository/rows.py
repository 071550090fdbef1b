"""Rows of the job table as the repository hands them out, and how they are decoded.

A row is three columns: ``id``, ``next_run_time`` (epoch seconds, NULL when paused) and
``job_state`` (APScheduler's pickled job dict). :class:`StoredJob` keeps the raw bytes,
which every write compares against, beside the decoded dict when it could be decoded.

SQLite is dynamically typed: a hand-edited store can hold a blob or a number as an id,
text in ``next_run_time``, text that is not UTF-8 anywhere. Such a row is read anyway,
kept unreadable with the reason, and its columns as read are kept for the writes that
replace it.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.repository.codec import UnreadableStateError, decode_state, encode_state
from whalefall_sched.repository.job_shape import shape_problem

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table
    from sqlalchemy.sql import ColumnElement, Select

#: The default of :class:`StoredJob`'s raw columns: the same as the decoded ones.
_SAME: Any = object()


@dataclass(frozen=True)
class StoredJob:
    """One row of the job table, decoded when possible."""

    #: The id; for an id column that is not UTF-8 text, a printable stand-in.
    id: str
    next_run_time: float | None
    job_state: bytes = field(repr=False)
    #: The decoded ``job_state`` dict; None when it cannot be decoded safely (the reason
    #: in ``unreadable_reason``), or was not decoded (rows read for a replacement only).
    decoded: dict[str, Any] | None = field(default=None, repr=False)
    #: Why ``decoded`` is None.
    unreadable_reason: str | None = None
    #: Why the columns cannot be taken as they are (a SQLite column holding a value of
    #: another type than the table declares), or None.
    column_problem: str | None = None
    #: The ``id`` column exactly as read, which writes match on (default: ``id``).
    raw_id: Any = field(default=_SAME, repr=False)
    #: The ``job_state`` column exactly as read, which writes match on (default:
    #: ``job_state``).
    raw_job_state: Any = field(default=_SAME, repr=False)

    def __post_init__(self) -> None:
        if self.raw_id is _SAME:
            object.__setattr__(self, "raw_id", self.id)
        if self.raw_job_state is _SAME:
            object.__setattr__(self, "raw_job_state", self.job_state)

    @property
    def clean_id(self) -> bool:
        """Whether the id column holds exactly ``id`` (UTF-8 text)."""
        return type(self.raw_id) is str and self.raw_id == self.id


def timestamp(value: datetime | None) -> float | None:
    """A next run time as the ``next_run_time`` column stores it (epoch seconds)."""
    return value.timestamp() if value is not None else None


def decode_row(
    job_id: object, next_run_time: object, job_state: object, *, decode: bool = True
) -> StoredJob:
    """Decode one row from its columns as read; an unreadable row is kept with the reason.

    Unreadable: a column of another type than the table declares, a ``job_state`` the
    codec refuses, or a decoded state that is not what stock APScheduler 3 writes
    (:mod:`.job_shape`). With ``decode`` False only the columns are checked: the row's
    ``decoded`` and ``unreadable_reason`` stay None unless a column is of another type
    (what a replacement needs of the rows it removes: ids, times and raw bytes).
    """
    row_id, id_problem = _id_column(job_id)
    when, time_problem = _time_column(next_run_time)
    raw, state_problem = _state_column(job_state)
    problem = id_problem or time_problem or state_problem
    if problem is not None:
        return StoredJob(
            row_id, when, raw, None, problem, problem, raw_id=job_id, raw_job_state=job_state
        )
    if not decode:
        return StoredJob(row_id, when, raw)
    try:
        state = decode_state(raw)
    except UnreadableStateError as exc:
        return StoredJob(row_id, when, raw, None, str(exc))
    reason = shape_problem(state)
    if reason is not None:
        return StoredJob(row_id, when, raw, None, reason)
    return StoredJob(row_id, when, raw, state)


def printable_id(value: object) -> str:
    """An id column's value as text: itself when it is UTF-8 text, else a readable stand-in."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return repr(value)


def _sql_kind(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        return "a blob"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "an integer"
    return "a real" if isinstance(value, float) else type(value).__name__


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _id_column(value: object) -> tuple[str, str | None]:
    if isinstance(value, str):
        if _is_utf8(value):
            return value, None
        return printable_id(value), "id column holds text that is not UTF-8"
    return printable_id(value), f"id column holds {_sql_kind(value)}, not text"


def _time_column(value: object) -> tuple[float | None, str | None]:
    """The column as seconds, and why it is not a time; a finite number is kept as it
    is (the backup saves it exactly), anything else as None."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"next_run_time column holds {_sql_kind(value)}, not a number"
    problem = f"next_run_time column holds {value!r:.40}, not a time"
    try:
        seconds = float(value)
    except OverflowError:
        return None, problem
    if not math.isfinite(seconds):
        return None, problem
    try:
        datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):
        return seconds, problem
    return seconds, None


def _state_column(value: object) -> tuple[bytes, str | None]:
    if isinstance(value, bytes):
        return value, None
    if isinstance(value, bytearray | memoryview):
        return bytes(value), None
    # text is kept (as UTF-8) for the backup; anything else has no bytes to keep
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else b""
    return raw, f"job_state column holds {_sql_kind(value)}, not a blob"


def encode_row(state: dict[str, Any], job_id: str | None = None) -> StoredJob:
    """The row stock APScheduler's store would write for a job state (id: ``state["id"]``)."""
    row_id = state["id"] if job_id is None else job_id
    return StoredJob(row_id, timestamp(state.get("next_run_time")), encode_state(state), state)


def same_intent(a: StoredJob | None, b: StoredJob | None) -> bool:
    """Whether two rows mean the same job, ignoring a next run time a scheduler moved on.

    Compared: presence, function, trigger, arguments, name and paused state; rows that
    cannot be decoded are compared byte for byte.
    """
    if a is None or b is None:
        return a is b
    return _intent(a) == _intent(b)


def _intent(job: StoredJob) -> tuple[Any, ...]:
    if job.decoded is None:
        return (job.raw_job_state,)
    state = job.decoded
    return (
        state.get("func"),
        repr(state.get("trigger")),
        repr(state.get("args")),
        repr(state.get("kwargs")),
        state.get("name"),
        state.get("next_run_time") is None,
    )


# -- selecting rows ----------------------------------------------------------------


def decode_rows(rows: Iterable[Sequence[Any]], *, decode: bool = True) -> list[StoredJob]:
    """:func:`decode_row` of each ``(id, next_run_time, job_state)``.

    The cyclic garbage collector is paused meanwhile (and restored after): decoding
    makes many small objects and no cycles, and a collection every few hundred rows
    would otherwise take about a quarter of the time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return [decode_row(r[0], r[1], r[2], decode=decode) for r in rows]
    finally:
        if paused:
            gc.enable()


def select_rows(
    conn: Connection, table: Table, job_id: str | None = None, *, decode: bool = True
) -> list[StoredJob]:
    """Every row (or the one with ``job_id``), decoded, sorted by the database's order.

    On SQLite, a row whose id column is not UTF-8 text is found by its printable id.
    ``decode`` False checks the columns only (:func:`decode_row`).
    """
    from sqlalchemy import select

    t = table
    query = select(t.c.id, t.c.next_run_time, t.c.job_state).order_by(t.c.id)
    if job_id is None:
        return decode_rows(fetch(conn, query), decode=decode)
    # A case-insensitive collation (MariaDB's default) matches 'A' for 'a': ids are exact.
    rows = [r for r in fetch(conn, query.where(t.c.id == job_id)) if r[0] == job_id]
    if not rows and conn.dialect.name == "sqlite":
        odd = [
            raw
            for (raw,) in fetch(conn, select(t.c.id))
            if raw != job_id and printable_id(raw) == job_id
        ]
        rows = [r for raw in odd for r in fetch(conn, query.where(column_is(t.c.id, raw, str)))]
    return decode_rows(rows, decode=decode)


def fetch(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row ``query`` returns; on SQLite, text that is not UTF-8 does not fail it.

    Such text comes back with its bad bytes as lone surrogates (``surrogateescape``),
    which :func:`column_is` turns back into the same bytes.
    """
    dbapi = getattr(conn.connection, "dbapi_connection", None)
    if conn.dialect.name != "sqlite" or not hasattr(dbapi, "text_factory"):
        return [tuple(r) for r in conn.execute(query)]
    previous = dbapi.text_factory  # type: ignore[union-attr]
    dbapi.text_factory = _lenient_text  # type: ignore[union-attr]
    try:
        return [tuple(r) for r in conn.execute(query)]
    finally:
        dbapi.text_factory = previous  # type: ignore[union-attr]


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def column_is(column: Any, value: object, kind: type) -> ColumnElement[bool]:
    """``column = value`` for a column's value exactly as read, whatever its type.

    ``kind`` is the type the column declares (``str``, ``bytes``): such a value is
    compared as usual. NULL is matched with ``IS NULL``; any other value can only come
    from SQLite, where it is matched with its storage class too (``id = 5`` would also
    match the text '5'), text that is not UTF-8 by its bytes.
    """
    from sqlalchemy import LargeBinary, and_, cast, func, literal, type_coerce
    from sqlalchemy.types import NullType

    if type(value) is kind and not (isinstance(value, str) and not _is_utf8(value)):
        return column == value  # type: ignore[no-any-return]
    if value is None:
        return column.is_(None)  # type: ignore[no-any-return]
    if isinstance(value, str):  # read by fetch() with its bad bytes as surrogates
        stored = value.encode("utf-8", "surrogateescape")
        return and_(func.typeof(column) == "text", cast(column, LargeBinary) == stored)
    storage = _STORAGE_CLASSES.get(type(value), "blob")
    # untyped on both sides: the column's type would process the value (bytes(5)...)
    untyped = type_coerce(column, NullType()) == literal(value, NullType())
    return and_(func.typeof(column) == storage, untyped)


#: SQLite's storage class of each value type ``fetch`` returns.
_STORAGE_CLASSES = {int: "integer", float: "real", bytes: "blob", str: "text"}


def read_row(conn: Connection, table: Table, job_id: str) -> StoredJob | None:
    """The row with exactly ``job_id``, whatever the collation; None if there is none."""
    rows = select_rows(conn, table, job_id)
    return rows[0] if rows else None


def unsafe_reason(row: StoredJob) -> str | None:
    """Why a row that this tool did not produce must not be written, or None.

    A live scheduler unpickles what is written with no care at all, so a row is written
    only when the restricted decoder accepts it, its state names the row's own id, and
    its ``next_run_time`` column agrees with its state (a column in the past beside a
    future state would make a scheduler wake up in a busy loop).
    """
    if row.decoded is None:
        return f"cannot be decoded safely ({row.unreadable_reason})"
    if row.decoded.get("id") != row.id:
        return f"its state names another id ({row.decoded.get('id')!r})"
    when = row.decoded.get("next_run_time")
    if not isinstance(when, datetime | None):
        return f"its state's next_run_time is not a time ({type(when).__name__})"
    expected = timestamp(when)
    column = row.next_run_time
    if (expected is None) != (column is None) or (
        expected is not None and column is not None and abs(expected - column) > 1e-3
    ):
        return f"its next_run_time column ({column!r}) disagrees with its state ({expected!r})"
    return None
