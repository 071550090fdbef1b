"""Rows of the job table as the repository hands them out, and how they are decoded.

A row is three columns: ``id``, ``next_run_time`` (epoch seconds, NULL when paused) and
``job_state`` (APScheduler's pickled job dict). :class:`StoredJob` keeps the raw bytes,
which every write compares against, beside the decoded dict when it could be decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.repository.codec import UnreadableStateError, decode_state, encode_state

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table


@dataclass(frozen=True)
class StoredJob:
    """One row of the job table, decoded when possible."""

    id: str
    next_run_time: float | None
    job_state: bytes = field(repr=False)
    #: The decoded ``job_state`` dict; None when it cannot be decoded safely.
    state: dict[str, Any] | None = field(default=None, repr=False)
    #: Why ``state`` is None.
    unreadable_reason: str | None = None


def timestamp(value: datetime | None) -> float | None:
    """A next run time as the ``next_run_time`` column stores it (epoch seconds)."""
    return value.timestamp() if value is not None else None


def decode_row(job_id: str, next_run_time: float | None, job_state: bytes) -> StoredJob:
    """Decode one raw row; an undecodable row is kept with the reason."""
    raw = bytes(job_state)
    try:
        state = decode_state(raw)
    except UnreadableStateError as exc:
        return StoredJob(job_id, next_run_time, raw, None, str(exc))
    return StoredJob(job_id, next_run_time, raw, state)


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
    if job.state is None:
        return (job.job_state,)
    state = job.state
    return (
        state.get("func"),
        repr(state.get("trigger")),
        repr(state.get("args")),
        repr(state.get("kwargs")),
        state.get("name"),
        state.get("next_run_time") is None,
    )


# -- selecting rows ----------------------------------------------------------------


def select_rows(conn: Connection, table: Table, job_id: str | None = None) -> list[StoredJob]:
    """Every row (or the one with ``job_id``), decoded, sorted by the database's order."""
    from sqlalchemy import select

    t = table
    query = select(t.c.id, t.c.next_run_time, t.c.job_state).order_by(t.c.id)
    if job_id is not None:
        query = query.where(t.c.id == job_id)
    # A case-insensitive collation (MariaDB's default) matches 'A' for 'a': ids are exact.
    return [
        decode_row(r.id, r.next_run_time, r.job_state)
        for r in conn.execute(query)
        if job_id is None or r.id == job_id
    ]


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
    if row.state is None:
        return f"cannot be decoded safely ({row.unreadable_reason})"
    if row.state.get("id") != row.id:
        return f"its state names another id ({row.state.get('id')!r})"
    when = row.state.get("next_run_time")
    if not isinstance(when, datetime | None):
        return f"its state's next_run_time is not a time ({type(when).__name__})"
    expected = timestamp(when)
    column = row.next_run_time
    if (expected is None) != (column is None) or (
        expected is not None and column is not None and abs(expected - column) > 1e-3
    ):
        return f"its next_run_time column ({column!r}) disagrees with its state ({expected!r})"
    return None
