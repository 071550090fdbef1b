"""The job store's side of the audit trail: what a write records, and reading it back.

:class:`AuditTrail` creates the audit table (:mod:`.audit`) just before a write that
records an event, never inside that write's transaction (MariaDB commits DDL at once,
and a compare-and-swap retry must not repeat it); appends the event in the write's own
transaction; and turns a refused privilege into a note that the change is not recorded
(a server gone stays a failure of the write). Reading the events never creates the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.errors import StoreSystemError
from whalefall_sched.masking import redact
from whalefall_sched.repository import audit, reads
from whalefall_sched.repository.audit import AuditEntry, AuditRow
from whalefall_sched.repository.rows import StoredJob

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Connection

    from whalefall_sched.repository.connection import StoreConnection


@dataclass(frozen=True)
class SortedChanges:
    """How a replacement's event sorts the jobs: ids added, removed and changed, and
    how many are unchanged."""

    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int


#: Sorts a replacement's jobs for its event, from the old rows and the new ones.
SortChanges = Callable[[Sequence[StoredJob], Sequence[StoredJob]], SortedChanges]


class AuditTrail:
    """The events of one job table: appended beside its writes, read back newest first."""

    def __init__(self, connection: StoreConnection) -> None:
        self.connection = connection
        #: Why an event could not be recorded (no right to create the audit table):
        #: taken into the write's notes.
        self._notes: list[str] = []

    @property
    def job_table(self) -> str:
        """The job table as the audit table names it (``schema.table`` with a schema)."""
        conn = self.connection
        return f"{conn.schema}.{conn.table_name}" if conn.schema else conn.table_name

    def ensure(self, event: AuditEntry | None) -> AuditEntry | None:
        """Create the audit table before a write that records ``event`` (never in its
        transaction: MariaDB would commit it), only once the write is to happen.

        ``event``, or None when the table cannot be created (an account that may change
        rows but not create tables): the write then goes ahead without its event, and
        a note says the change is not recorded.
        """
        if event is None:
            return None
        conn = self.connection
        try:
            with conn.errors():
                engine = conn.engine("rw")
                with engine.connect() as c:
                    # no job table: the write itself says the store is not initialised
                    if audit.has_table(c, conn.schema) or not conn.has_table(c):
                        return event
                audit.create_table(engine, conn.schema)
        except StoreSystemError as exc:  # MariaDB denies even looking at the table
            if not _denied(exc) or not reads.exists_now(conn):
                raise  # a server gone is a failure of the write, not a missing right
            note = (
                f"the audit trail could not be written ({_first_line(exc, conn.url)}): "
                "this change is not recorded"
            )
            if note not in self._notes:
                self._notes.append(note)
            return None
        return event

    def take_notes(self) -> list[str]:
        """The notes gathered since the last call (each write takes its own)."""
        notes, self._notes = self._notes, []
        return notes

    def append(
        self,
        c: Connection,
        event: AuditEntry,
        job_ids: Sequence[str],
        outcome: str,
        change: dict[str, Any],
    ) -> None:
        """Append ``event`` inside the caller's transaction ``c``."""
        audit.append(
            c,
            self.connection.schema,
            event,
            job_table=self.job_table,
            job_ids=job_ids,
            outcome=outcome,
            change=change,
        )

    def record(
        self, event: AuditEntry, job_ids: Sequence[str], outcome: str, change: dict[str, Any]
    ) -> None:
        """Record ``event`` in a short transaction of its own: for what changes no job
        (a manual run). Creates the audit table if needed."""
        conn = self.connection
        reads.require_store(conn)
        if self.ensure(event) is None:
            raise StoreSystemError(self.take_notes()[0])
        with conn.errors(), conn.engine("rw").begin() as c:
            self.append(c, event, job_ids, outcome, change)

    def events(
        self,
        *,
        job_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        commands: Sequence[str] = (),
    ) -> list[AuditRow] | None:
        """Events of this job table, newest first; None when there is no audit table.
        Read-only: never creates it."""
        conn = self.connection
        job_table = self.job_table
        kwargs: dict[str, Any] = {
            "job_id": job_id,
            "since": since,
            "limit": limit,
            "commands": commands,
        }
        plain = reads.existing_file(conn)
        if plain is not None:

            def query3(c: sqlite3.Connection) -> list[AuditRow] | None:
                if not audit.has_table3(c):
                    return None
                return audit.select_events3(c, job_table, **kwargs)

            return reads.read_sqlite3(conn, plain, query3)

        def query(c: Connection) -> list[AuditRow] | None:
            if not audit.has_table(c, conn.schema):
                return None
            return audit.select_events(c, conn.schema, job_table, **kwargs)

        return reads.read(conn, query)

    def latest_pauses(self) -> dict[str, AuditRow]:
        """Each paused job's latest pause event (empty without an audit table)."""
        events = self.events(commands=audit.PAUSE_COMMANDS)
        return audit.latest_pauses(events or [])


def utc(job: StoredJob) -> str | None:
    """A row's ``next_run_time`` column as UTC ISO 8601, None when paused."""
    when = job.next_run_time
    if when is None:
        return None
    try:
        return datetime.fromtimestamp(when, UTC).isoformat()
    except (OverflowError, ValueError, OSError, TypeError):
        return str(when)


def replacement_change(
    old: Sequence[StoredJob], new: Sequence[StoredJob], sort_changes: SortChanges | None = None
) -> tuple[list[str], dict[str, Any]]:
    """The ids a replacement touched, and its counts and ids added/removed/changed: as
    ``sort_changes`` sorts them (the diff's rule: a row whose fields are the same is
    unchanged, whatever its next run time's bytes), else by the rows' bytes."""
    sorted_ids = None
    if sort_changes is not None:
        try:
            sorted_ids = sort_changes(old, new)
        except Exception:  # noqa: BLE001 - the event must never fail the write
            sorted_ids = None
    if sorted_ids is None:
        sorted_ids = _sorted_by_bytes(old, new)
    added, removed, changed, unchanged = (
        sorted(sorted_ids.added),
        sorted(sorted_ids.removed),
        sorted(sorted_ids.changed),
        sorted_ids.unchanged,
    )
    change: dict[str, Any] = {
        "counts": {
            "added": len(added),
            "removed": len(removed),
            "changed": len(changed),
            "unchanged": unchanged,
        },
        "added": added[: audit.MAX_IDS],
        "removed": removed[: audit.MAX_IDS],
        "changed": changed[: audit.MAX_IDS],
    }
    return [*added, *removed, *changed], change


def _sorted_by_bytes(old: Sequence[StoredJob], new: Sequence[StoredJob]) -> SortedChanges:
    before = {job.id: job.raw_job_state for job in old}
    after = {job.id: job.job_state for job in new}
    changed = [i for i in after if i in before and before[i] != after[i]]
    added = [i for i in after if i not in before]
    return SortedChanges(
        added=added,
        removed=[i for i in before if i not in after],
        changed=changed,
        unchanged=len(after) - len(added) - len(changed),
    )


def _first_line(exc: BaseException, url: str) -> str:
    """The driver's own first line of the error behind ``exc``, the URL's password
    masked (the store's name and hint are already in the command's output)."""
    cause = exc.__cause__
    orig = getattr(cause, "orig", cause) or exc
    lines = str(orig).strip().splitlines()
    return redact(lines[0] if lines else type(orig).__name__, url)


#: MySQL/MariaDB errors of a refused privilege: on the database, a table, an operation.
_MYSQL_DENIED = frozenset({1044, 1142, 1227})


def _denied(exc: BaseException) -> bool:
    """Whether a database error is a refused privilege (PostgreSQL's SQLSTATE 42501,
    MySQL's access-denied errors), not a failure of the server or the connection."""
    cause = exc.__cause__
    orig = getattr(cause, "orig", cause)
    if getattr(orig, "sqlstate", None) == "42501":
        return True
    args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and args[0] in _MYSQL_DENIED
