"""The statements that change the job table, each a compare-and-swap on the bytes read.

``WHERE id = :id AND job_state = :old``: a row another process changed in between
matches nothing, and the write is prepared again from a fresh read instead of silently
overwriting the other change. The values compared are the columns exactly as read
(``StoredJob.raw_id``, ``raw_job_state``), so a SQLite row holding odd types can be
replaced too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from whalefall_sched.repository.rows import StoredJob, column_is, fetch

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table


class LostRaceError(Exception):
    """A compare-and-swap matched no row: someone else changed the store."""


def cas(conn: Connection, table: Table, statement: Any, job: StoredJob) -> None:
    """Run an UPDATE or DELETE on ``job``'s row only if it still holds the bytes read."""
    t = table
    matches = (
        column_is(t.c.id, job.raw_id, str),
        column_is(t.c.job_state, job.raw_job_state, bytes),
    )
    result = conn.execute(statement.where(*matches))
    if result.rowcount != 1:
        raise LostRaceError()


def cas_update(conn: Connection, table: Table, before: StoredJob, after: StoredJob) -> None:
    """Write ``after`` over ``before``'s row; :class:`LostRaceError` if the row moved."""
    update = table.update().values(next_run_time=after.next_run_time, job_state=after.job_state)
    cas(conn, table, update, before)


def replace_rows(
    conn: Connection, table: Table, old: Sequence[StoredJob], new: Sequence[StoredJob]
) -> None:
    """Make the table hold exactly ``new``, inside the caller's transaction.

    Ids present before and after are updated in place; others are deleted or inserted
    (so is a row whose id column is not UTF-8 text).
    Every update and delete is a compare-and-swap on ``old``'s bytes, and the ids are
    read back at the end: if anything differs from what was meant, :class:`LostRaceError`
    and the caller rolls back.
    """
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    t = table
    old_by_id = {job.id: job for job in old if job.clean_id}
    new_ids = {row.id for row in new}
    for job in old:
        if job.id not in new_ids or not job.clean_id:
            cas(conn, t, t.delete(), job)
    for row in new:
        if row.id in old_by_id:
            cas_update(conn, t, old_by_id[row.id], row)
            continue
        try:
            values = {"next_run_time": row.next_run_time, "job_state": row.job_state}
            conn.execute(t.insert().values(id=row.id, **values))
        except IntegrityError as exc:  # inserted meanwhile by someone else
            raise LostRaceError() from exc
    # Compared as sets: a server's collation may order ids unlike Python.
    check = [job_id for (job_id,) in fetch(conn, select(t.c.id))]
    if len(check) != len(new_ids) or set(check) != new_ids:
        raise LostRaceError()


def cas_delete(conn: Connection, table: Table, job: StoredJob) -> None:
    """Delete ``job``'s row if it still holds the bytes read; :class:`LostRaceError` if
    it moved (or is gone)."""
    cas(conn, table, table.delete(), job)
