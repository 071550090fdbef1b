"""The job store repository: the one object the services use to read and write a store.

A thin facade over the modules that do the work: :mod:`.connection` (URL, engines,
errors), :mod:`.sqlite_files` (journal and WAL files, the lock file), :mod:`.rows`
(decoding), :mod:`.due_row_guard` (writing beside a live scheduler), :mod:`.writes`
(compare-and-swap statements) and :mod:`.backups`. Reads open SQLite read-only and never
create, alter or delete anything.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from whalefall_sched.errors import (
    JobNotFoundError,
    StoreConflictError,
    StoreSystemError,
    WhaleFallSchedError,
)
from whalefall_sched.masking import mask_url, redact
from whalefall_sched.repository import audit, backups, sqlite_reads, writes
from whalefall_sched.repository.audit import AuditEntry, AuditRow
from whalefall_sched.repository.connection import StoreConnection, TransientError
from whalefall_sched.repository.due_row_guard import Attempt, DueRowGuard
from whalefall_sched.repository.rows import (
    StoredJob,
    decode_rows,
    encode_row,
    fetch,
    printable_id,
    read_row,
    select_rows,
)
from whalefall_sched.repository.sqlite_files import (
    SchedulerLock,
    hot_journal,
    probe_scheduler_lock,
    unfinished_wal,
)

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Connection, Engine, Table

_T = TypeVar("_T")

#: How many times a write that lost a compare-and-swap is prepared again from fresh rows.
CAS_ATTEMPTS = 5


@dataclass(frozen=True)
class ModifyOutcome:
    """What :meth:`JobStoreRepository.modify_job` did: ``after`` is None for a no-op."""

    before: StoredJob
    after: StoredJob | None
    #: What the operator should know (e.g. a due job written without a scheduler moving it).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreCreation:
    """What :meth:`JobStoreRepository.create_store` creates (or would create)."""

    #: The SQLite store's missing directories, outermost first.
    directories: list[Path]
    #: The SQLite store file, when it does not exist yet.
    file: Path | None
    #: The job table (``schema.table`` with a schema).
    table: str
    #: The rows written into it.
    written: list[StoredJob] = field(default_factory=list)


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


@dataclass(frozen=True)
class ReplaceOutcome:
    """What :meth:`JobStoreRepository.replace_all` did."""

    removed: list[StoredJob]
    written: list[StoredJob]
    backup_path: Path | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeleteOutcome:
    """What :meth:`JobStoreRepository.delete_job` did: the row removed, as read."""

    removed: StoredJob
    notes: list[str] = field(default_factory=list)


class JobStoreRepository:
    """An APScheduler 3 ``SQLAlchemyJobStore`` table, read safely and written atomically."""

    def __init__(
        self,
        url: str,
        *,
        table: str = "apscheduler_jobs",
        schema: str | None = None,
        timeout: float = 5.0,
        wait: float = 10.0,
        due_margin: float = 2.0,
        settle: float = 1.0,
    ) -> None:
        self.connection = StoreConnection(url, table=table, schema=schema, timeout=timeout)
        #: Decides when a write may go ahead beside a live scheduler (``wait`` = --wait).
        #: Why an event could not be recorded (no right to create the audit table):
        #: taken into the write's notes.
        self._audit_notes: list[str] = []
        self.guard = DueRowGuard(self._current, wait=wait, due_margin=due_margin, settle=settle)

    @property
    def url(self) -> str:
        """The store's URL as given (may carry a password: never print it)."""
        return self.connection.url

    @property
    def table_name(self) -> str:
        """The job table's name."""
        return self.connection.table_name

    @property
    def schema(self) -> str | None:
        """The job table's schema, if any."""
        return self.connection.schema

    @property
    def where(self) -> str:
        """The store's location for messages, password masked."""
        return self.connection.where

    @property
    def table(self) -> Table:
        """The job table as stock APScheduler defines it."""
        return self.connection.table

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite store, None for other stores or in-memory ones."""
        return self.connection.sqlite_path()

    def default_backup_dir(self) -> Path:
        """``backups/`` beside a SQLite store file, else ``userdata/backups``."""
        path = self.sqlite_path()
        return path.parent / "backups" if path is not None else Path("userdata/backups")

    def close(self) -> None:
        """Release every connection pool."""
        self.connection.close()

    # -- reading -----------------------------------------------------------

    def _read(self, query: Callable[[Connection], _T]) -> _T:
        """Run ``query`` on a read-only connection; never write the store
        (:meth:`.connection.StoreConnection.read_only`)."""
        return self.connection.read_only(query)

    def _read_sqlite3(self, path: Path, query: Callable[[sqlite3.Connection], _T]) -> _T:
        """:meth:`_read` for a plain SQLite file, through stdlib ``sqlite3``."""
        conn = self.connection
        return sqlite_reads.read(path, conn.timeout, query, conn.sqlite3_errors)

    def _existing_file(self) -> Path | None:
        """A plain SQLite store's file, or None for other stores; a missing file raises
        the not-initialised conflict (it is never created)."""
        path = self.connection.plain_sqlite_file()
        if path is not None and not path.exists():
            raise self.connection.not_initialised()
        return path

    def exists(self) -> bool:
        """Whether the store (file and table) exists. Creates nothing."""
        path = self.sqlite_path()
        if path is not None and not path.exists():
            return False
        plain = self.connection.plain_sqlite_file()
        if plain is not None:
            return self._read_sqlite3(plain, lambda c: sqlite_reads.has_table(c, self.table_name))
        return self._read(self.connection.has_table)

    def list_jobs(self, *, missing_ok: bool = False) -> list[StoredJob]:
        """Every row. A missing store raises a conflict unless ``missing_ok``."""
        path = self.sqlite_path()
        if path is not None and not path.exists():
            if missing_ok:
                return []
            raise self.connection.not_initialised()
        name = self.table_name
        rows: list[StoredJob] | None
        plain = self.connection.plain_sqlite_file()
        if plain is not None:

            def query3(c: sqlite3.Connection) -> list[StoredJob] | None:
                if not sqlite_reads.has_table(c, name):
                    return None
                return sqlite_reads.select_rows(c, name)

            rows = self._read_sqlite3(plain, query3)
        else:

            def query(c: Connection) -> list[StoredJob] | None:
                return select_rows(c, self.table) if self.connection.has_table(c) else None

            rows = self._read(query)
        if rows is None:
            if missing_ok:
                return []
            raise self.connection.not_initialised()
        return rows

    def get_job(self, job_id: str) -> StoredJob:
        """The row with ``job_id``; raises :class:`JobNotFoundError`."""
        plain = self._existing_file()
        name = self.table_name
        rows: list[StoredJob] | None
        if plain is not None:

            def query3(c: sqlite3.Connection) -> list[StoredJob] | None:
                if not sqlite_reads.has_table(c, name):
                    return None
                return sqlite_reads.select_rows(c, name, job_id)

            rows = self._read_sqlite3(plain, query3)
        else:

            def query(c: Connection) -> list[StoredJob] | None:
                return select_rows(c, self.table, job_id) if self.connection.has_table(c) else None

            rows = self._read(query)
        if rows is None:
            raise self.connection.not_initialised()
        if not rows:
            raise self._not_found(job_id)
        return rows[0]

    def job_ids_and_states(self) -> list[tuple[str, bool]]:
        """Each job's (printable) id and whether it is paused (``next_run_time`` NULL),
        sorted by id; nothing decoded, so a row that cannot be decoded is listed too.

        Cheap enough for shell completion: one SELECT of two columns, and for a plain
        SQLite store no SQLAlchemy.
        """
        plain = self._existing_file()
        name = self.table_name
        raw: list[tuple[Any, bool]] | None
        if plain is not None:

            def query3(c: sqlite3.Connection) -> list[tuple[Any, bool]] | None:
                if not sqlite_reads.has_table(c, name):
                    return None
                return sqlite_reads.ids_and_paused(c, name)

            raw = self._read_sqlite3(plain, query3)
        else:
            from sqlalchemy import select

            def query(c: Connection) -> list[tuple[Any, bool]] | None:
                if not self.connection.has_table(c):
                    return None
                t = self.table
                rows = fetch(c, select(t.c.id, t.c.next_run_time).order_by(t.c.id))
                return [(job_id, when is None) for job_id, when in rows]

            raw = self._read(query)
        if raw is None:
            raise self.connection.not_initialised()
        # sorted here too: MariaDB's default collation ignores case
        return sorted(((printable_id(i), paused) for i, paused in raw), key=lambda r: r[0])

    def iter_jobs(
        self, *, paused: bool | None = None, offset: int = 0, limit: int | None = None
    ) -> Iterator[StoredJob]:
        """The rows sorted by (printable) id, decoded as they are consumed.

        ``paused`` keeps only rows whose ``next_run_time`` column is NULL (True) or not
        (False), filtered in SQL before anything is decoded; ``offset`` and ``limit``
        slice the sorted rows before they are read. Which rows there are is read at once
        (a missing store raises here); their columns are then read and decoded a chunk at
        a time, so memory does not grow with the table.
        """
        plain = self._existing_file()
        stop = None if limit is None else offset + limit
        if plain is None:
            return self._iter_server_jobs(paused, offset, stop)
        conn = self.connection
        name = self.table_name
        if unfinished_wal(plain):
            return self._iter_all(paused, offset, stop)
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
            return self._iter_all(paused, offset, stop)

        def stream() -> Iterator[StoredJob]:
            try:
                with conn.sqlite3_errors():
                    yield from sqlite_reads.stream_rows(c, name, rowids)
            finally:
                c.close()

        return stream()

    def _iter_all(self, paused: bool | None, offset: int, stop: int | None) -> Iterator[StoredJob]:
        """:meth:`iter_jobs` from every row read at once (a recovered copy, or SQLite
        through SQLAlchemy, whose odd column values cannot be matched back in chunks)."""
        rows = [
            job
            for job in self.list_jobs()
            if paused is None or (job.next_run_time is None) == paused
        ]
        rows.sort(key=lambda job: job.id)
        return iter(rows[offset:stop])

    def _iter_server_jobs(
        self, paused: bool | None, offset: int, stop: int | None
    ) -> Iterator[StoredJob]:
        """:meth:`iter_jobs` on a server: the ids first, then the rows a chunk at a time."""
        if self.sqlite_path() is not None or self.connection.parsed_url().drivername.startswith(
            "sqlite"
        ):
            return self._iter_all(paused, offset, stop)
        from sqlalchemy import select

        t = self.table

        def ids(c: Connection) -> list[Any] | None:
            if not self.connection.has_table(c):
                return None
            query = select(t.c.id)
            if paused is not None:
                when = t.c.next_run_time
                query = query.where(when.is_(None) if paused else when.is_not(None))
            return [r[0] for r in fetch(c, query.order_by(t.c.id))]

        found = self._read(ids)
        if found is None:
            raise self.connection.not_initialised()
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
                yield from self._read(chunk_rows(chunk))

        return stream()

    def scheduler_lock(self, name: str = "scheduler.lock") -> SchedulerLock | None:
        """Who holds the host app's lock file beside a SQLite store (None for other stores)."""
        path = self.sqlite_path()
        return None if path is None else probe_scheduler_lock(path.parent / name)

    def read_backup(self, path: Path) -> list[StoredJob]:
        """The rows of a backup of this store's table (decoded where possible)."""
        return backups.read_backup(
            path,
            table=self.table_name,
            schema=self.schema,
            where=self.where,
            default_dir=self.default_backup_dir(),
        )

    def _not_found(self, job_id: str) -> JobNotFoundError:
        return JobNotFoundError(
            f"job {job_id!r} not found in {self.where}; `whalefall-sched list` shows the ids"
        )

    # -- writing -----------------------------------------------------------

    def _current(self, job_id: str) -> StoredJob | None:
        """The row as it is now, read on the writing connection."""
        conn = self.connection
        with conn.errors(), conn.engine("rw").connect() as c:
            return read_row(c, self.table, job_id)

    def modify_job(
        self,
        job_id: str,
        change: Callable[[StoredJob], dict[str, Any] | None],
        *,
        attempts: int = CAS_ATTEMPTS,
        event: AuditEntry | None = None,
    ) -> ModifyOutcome:
        """Apply ``change`` to a job's state with compare-and-swap, guarded against a scheduler.

        ``change`` gets the decoded row and returns the new state, or None for a no-op;
        it may raise to refuse. A row changed by someone else between read and write is
        re-read and ``change`` applied again, up to ``attempts`` times. ``event`` is
        recorded in the audit table in the write's own transaction; a no-op writes
        nothing, so records nothing either.
        """

        def prepare() -> Attempt[ModifyOutcome]:
            before = self._read_for_change(job_id)
            new_state = change(before)
            if new_state is None:
                noop = ModifyOutcome(before, None)
                return Attempt([], lambda: noop)
            after = encode_row(new_state, job_id)
            return Attempt(
                [before],
                lambda: (
                    ModifyOutcome(before, after) if self._cas_write(before, after, event) else None
                ),
                lambda outcome: {job_id: outcome.after},
            )

        def gave_up() -> StoreConflictError:
            return StoreConflictError(
                f"job {job_id!r} was changed by another process {attempts} times while "
                "being written; the last change is kept, try again"
            )

        done = self.guard.run(prepare, attempts=attempts, gave_up=gave_up)
        notes = [*done.notes, *self._take_audit_notes()]
        return ModifyOutcome(done.result.before, done.result.after, notes)

    def _read_for_change(self, job_id: str) -> StoredJob:
        """The decoded row, or the reason it cannot be changed."""
        conn = self.connection
        with conn.errors(), conn.engine("rw").begin() as c:
            if not conn.has_table(c):
                raise conn.not_initialised()
            job = read_row(c, self.table, job_id)
        if job is None:
            raise self._not_found(job_id)
        if job.decoded is None:
            raise StoreConflictError(
                f"job {job_id!r} cannot be decoded ({job.unreadable_reason}); left unchanged"
            )
        return job

    def _cas_write(
        self, before: StoredJob, after: StoredJob, event: AuditEntry | None = None
    ) -> bool:
        """Write ``after`` if the row still holds ``before``'s bytes; False if it moved."""
        conn = self.connection
        event = self._ensure_audit(event)  # before the transaction: MariaDB commits DDL
        try:
            with conn.errors(), conn.engine("rw").begin() as c:
                writes.cas_update(c, self.table, before, after)
                if event is not None:
                    change = {"next_run_time": [_utc(before), _utc(after)]}
                    self._append(c, event, [after.id], audit.DONE, change)
        except (writes.LostRaceError, TransientError):
            return False
        return True

    def replaced_rows(self) -> list[StoredJob]:
        """The rows :meth:`replace_all` would remove, for a preview: read-only, columns
        checked but not decoded (a replacement needs ids, not states). A store that does
        not exist is the not-initialised conflict, as for :meth:`replace_all`."""
        self.require_store()

        def query(c: Connection) -> list[StoredJob]:
            if not self.connection.has_table(c):  # dropped since
                raise self.connection.not_initialised()
            return select_rows(c, self.table, decode=False)

        return self._read(query)

    def replace_all(
        self,
        rows: Sequence[StoredJob],
        *,
        backup_dir: Path | None,
        attempts: int = CAS_ATTEMPTS,
        event: AuditEntry | None = None,
        sort_changes: SortChanges | None = None,
    ) -> ReplaceOutcome:
        """Replace every job by ``rows`` in one transaction; all or nothing.

        Reload writes rows made by :func:`.rows.encode_row`; restore writes a backup's rows
        byte for byte. A store that does not exist is an error (``init`` creates one):
        nothing is created. Every update and delete is a compare-and-swap, so a
        concurrent change aborts the whole transaction, which is then prepared again.
        The rows removed or rewritten are saved to ``backup_dir`` first. Due rows are
        left to a live scheduler to move on first (see :mod:`.due_row_guard`). The rows
        removed (``ReplaceOutcome.removed``) are read, not decoded: ids, next run times
        and bytes are all a replacement needs. ``event`` is recorded in the audit table
        in the same transaction, its ids and counts sorted by ``sort_changes`` (the
        diff's rule, which decodes the old rows; by their bytes without it, or when it
        fails).
        """
        conn = self.connection
        self.require_store()  # a misspelt URL must not become a new, empty store
        engine = conn.engine("rw")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        new = list(rows)

        def prepare() -> Attempt[ReplaceOutcome]:
            with conn.errors(), engine.connect() as c:
                # the guard, the backup and the compare-and-swap use the raw columns only
                current = select_rows(c, self.table, decode=False)
            return Attempt(
                current,
                lambda: self._replace_once(
                    engine, new, backup_dir, stamp, event, sort_changes=sort_changes
                ),
                lambda outcome: {job.id: job for job in outcome.written},
            )

        def gave_up() -> StoreConflictError:
            return StoreConflictError(
                f"job store {self.where} was changed by another process {attempts} times "
                "during the replacement; nothing written, try again"
            )

        done = self.guard.run(prepare, attempts=attempts, gave_up=gave_up)
        outcome = done.result
        notes = [*done.notes, *self._take_audit_notes()]
        return ReplaceOutcome(outcome.removed, outcome.written, outcome.backup_path, notes)

    def _replace_once(
        self,
        engine: Engine,
        new: list[StoredJob],
        backup_dir: Path | None,
        stamp: str,
        event: AuditEntry | None = None,
        *,
        sort_changes: SortChanges | None = None,
    ) -> ReplaceOutcome | None:
        """One all-or-nothing attempt; None if the store moved (rolled back)."""
        conn = self.connection
        event = self._ensure_audit(event)  # before the transaction: MariaDB commits DDL
        try:
            with conn.errors(), engine.begin() as c:
                old = select_rows(c, self.table, decode=False)
                backup = None
                if old and backup_dir is not None:
                    backup = backups.write_backup(
                        old,
                        backup_dir,
                        stamp,
                        store=mask_url(conn.url),
                        table=self.table_name,
                        schema=self.schema,
                    )
                writes.replace_rows(c, self.table, old, new)
                if event is not None:
                    ids, change = _replacement_change(old, new, sort_changes)
                    if backup is not None:
                        change["backup"] = str(backup)
                    # every row rewritten as it was (or none at all): nothing changed
                    outcome = audit.DONE if ids else audit.NO_OP
                    self._append(c, event, ids, outcome, change)
        except (writes.LostRaceError, TransientError):
            return None
        return ReplaceOutcome(old, new, backup)

    # -- deleting (delete) -------------------------------------------------------

    def backup_rows(self, backup_dir: Path) -> Path | None:
        """Save every row, raw and undecoded, to a backup ``restore`` reads; None when
        the table is empty. A store that does not exist is the not-initialised conflict."""
        conn = self.connection
        self.require_store()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        with conn.errors(), conn.engine("rw").connect() as c:
            rows = select_rows(c, self.table, decode=False)
        if not rows:
            return None
        return backups.write_backup(
            rows,
            backup_dir,
            stamp,
            store=mask_url(conn.url),
            table=self.table_name,
            schema=self.schema,
        )

    def delete_job(
        self, job_id: str, *, attempts: int = CAS_ATTEMPTS, event: AuditEntry | None = None
    ) -> DeleteOutcome:
        """Delete one row with compare-and-swap on its bytes, guarded against a scheduler.

        The row is read undecoded (an unreadable row can be deleted too). A due row is
        left to a live scheduler to move on first (:mod:`.due_row_guard`): deleting it
        under the scheduler's ``update_job`` would kill the scheduler's thread with
        ``JobLookupError``. Raises :class:`JobNotFoundError` when there is no such row.
        ``event`` is recorded in the audit trail in the delete's own transaction.
        """
        conn = self.connection

        def prepare() -> Attempt[StoredJob]:
            with conn.errors(), conn.engine("rw").connect() as c:
                if not conn.has_table(c):
                    raise conn.not_initialised()
                rows = select_rows(c, self.table, job_id, decode=False)
            if not rows:
                raise self._not_found(job_id)
            before = rows[0]
            return Attempt(
                [before],
                lambda: before if self._cas_delete(before, event) else None,
                lambda _: {before.id: None},
            )

        def gave_up() -> StoreConflictError:
            return StoreConflictError(
                f"job {job_id!r} was changed by another process {attempts} times while "
                "being deleted; the job is kept, try again"
            )

        done = self.guard.run(prepare, attempts=attempts, gave_up=gave_up)
        return DeleteOutcome(done.result, [*done.notes, *self._take_audit_notes()])

    def _cas_delete(self, before: StoredJob, event: AuditEntry | None = None) -> bool:
        """Delete the row if it still holds ``before``'s bytes; False if it moved."""
        conn = self.connection
        event = self._ensure_audit(event)  # before the transaction: MariaDB commits DDL
        try:
            with conn.errors(), conn.engine("rw").begin() as c:
                writes.cas_delete(c, self.table, before)
                if event is not None:
                    change = {"next_run_time": [_utc(before), None], "deleted": True}
                    self._append(c, event, [before.id], audit.DONE, change)
        except (writes.LostRaceError, TransientError):
            return False
        return True

    # -- existence and creation (init) ----------------------------------------

    def require_store(self) -> None:
        """Raise the not-initialised conflict (naming the path or table looked at) unless
        the job table exists. Creates nothing."""
        if not self.exists():
            raise self.connection.not_initialised()

    def _already_exists(self) -> StoreConflictError:
        path = self.sqlite_path()
        where = f"{path.absolute()} (table {self.table_name})" if path else self.where
        return StoreConflictError(
            f"a job store already exists at {where}; nothing changed "
            "(`whalefall-sched reload` re-registers the default jobs)"
        )

    def creation(self) -> StoreCreation:
        """What :meth:`create_store` would create; refuses (conflict) when the job table
        exists, even empty. Creates nothing."""
        if self.exists():
            raise self._already_exists()
        qualified = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        path = self.sqlite_path()
        if path is None:
            return StoreCreation([], None, qualified)
        path = path.absolute()
        missing = [d for d in reversed(path.parents) if not d.exists()]
        return StoreCreation(missing, None if path.exists() else path, qualified)

    def create_store(
        self, rows: Sequence[StoredJob], *, event: AuditEntry | None = None
    ) -> StoreCreation:
        """Create the job table, as stock ``SQLAlchemyJobStore`` does on start (and a
        SQLite store's directory and file), and write ``rows`` into it.

        Refuses (conflict, nothing changed) when the job table exists, even empty. The
        only code that creates a job table. On PostgreSQL the table and its rows are one
        transaction; where the database commits the ``CREATE TABLE`` on its own (SQLite,
        MariaDB), a failed write drops the table it just created. With ``event``, the
        audit table is created too and the event written with the rows.
        """
        plan = self.creation()
        conn = self.connection
        new = list(rows)
        engine = conn.engine("rwc")  # creates the SQLite directory and file
        created = False
        try:
            with conn.errors(), engine.begin() as c:
                if conn.has_table(c):  # created meanwhile by another process
                    raise self._already_exists()
                self.table.create(c)
                created = True
                writes.replace_rows(c, self.table, [], new)
                if event is not None:
                    audit.create_in(c, self.schema)
                    ids = [row.id for row in new]
                    self._append(c, event, ids, audit.DONE, {"registered": len(ids)})
        except Exception as exc:
            if created:
                self._drop_created_table(engine)
            elif isinstance(exc, StoreSystemError) and self._exists_now():
                raise self._already_exists() from exc  # another process created it first
            if isinstance(exc, writes.LostRaceError):
                raise StoreConflictError(
                    f"job store {self.where} was written by another process while being "
                    "created; nothing written, try again"
                ) from exc
            raise
        return StoreCreation(plan.directories, plan.file, plan.table, new)

    def _exists_now(self) -> bool:
        """Whether the store exists, False when that cannot be told either."""
        try:
            return self.exists()
        except WhaleFallSchedError:
            return False

    def _drop_created_table(self, engine: Engine) -> None:
        """Best effort: drop the table ``create_store`` made before its write failed
        (where the database had committed the ``CREATE TABLE`` on its own), unless
        another process has written rows into it meanwhile."""
        from sqlalchemy import func, select
        from sqlalchemy.exc import SQLAlchemyError

        conn = self.connection
        with contextlib.suppress(SQLAlchemyError, WhaleFallSchedError), conn.errors():
            with engine.begin() as c:
                if not conn.has_table(c):
                    return  # rolled back with the write (PostgreSQL)
                if c.execute(select(func.count()).select_from(self.table)).scalar_one():
                    return  # someone else's rows: theirs to keep
            self.table.drop(engine, checkfirst=True)

    # -- the audit trail (repository/audit.py) -------------------------------------

    @property
    def audited_table(self) -> str:
        """The job table as the audit table names it (``schema.table`` with a schema)."""
        return f"{self.schema}.{self.table_name}" if self.schema else self.table_name

    def _ensure_audit(self, event: AuditEntry | None) -> AuditEntry | None:
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
                    if audit.has_table(c, self.schema) or not conn.has_table(c):
                        return event
                audit.create_table(engine, self.schema)
        except StoreSystemError as exc:  # MariaDB denies even looking at the table
            if not _denied(exc) or not self._exists_now():
                raise  # a server gone is a failure of the write, not a missing right
            note = (
                f"the audit trail could not be written ({_first_line(exc, conn.url)}): "
                "this change is not recorded"
            )
            if note not in self._audit_notes:
                self._audit_notes.append(note)
            return None
        return event

    def _take_audit_notes(self) -> list[str]:
        notes, self._audit_notes = self._audit_notes, []
        return notes

    def _append(
        self,
        c: Connection,
        event: AuditEntry,
        job_ids: Sequence[str],
        outcome: str,
        change: dict[str, Any],
    ) -> None:
        audit.append(
            c,
            self.schema,
            event,
            job_table=self.audited_table,
            job_ids=job_ids,
            outcome=outcome,
            change=change,
        )

    def record(
        self, event: AuditEntry, job_ids: Sequence[str], outcome: str, change: dict[str, Any]
    ) -> None:
        """Record ``event`` in a short transaction of its own: for what changes no job
        (a manual run). Creates the audit table if needed."""
        self.require_store()
        if self._ensure_audit(event) is None:
            raise StoreSystemError(self._take_audit_notes()[0])
        conn = self.connection
        with conn.errors(), conn.engine("rw").begin() as c:
            self._append(c, event, job_ids, outcome, change)

    def audit_events(
        self,
        *,
        job_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        commands: Sequence[str] = (),
    ) -> list[AuditRow] | None:
        """Events of this job table, newest first; None when there is no audit table.
        Read-only: never creates it."""
        job_table = self.audited_table
        kwargs: dict[str, Any] = {
            "job_id": job_id,
            "since": since,
            "limit": limit,
            "commands": commands,
        }
        plain = self._existing_file()
        if plain is not None:

            def query3(c: sqlite3.Connection) -> list[AuditRow] | None:
                if not audit.has_table3(c):
                    return None
                return audit.select_events3(c, job_table, **kwargs)

            return self._read_sqlite3(plain, query3)

        def query(c: Connection) -> list[AuditRow] | None:
            if not audit.has_table(c, self.schema):
                return None
            return audit.select_events(c, self.schema, job_table, **kwargs)

        return self._read(query)

    def latest_pauses(self) -> dict[str, AuditRow]:
        """Each paused job's latest pause event (empty without an audit table)."""
        events = self.audit_events(commands=audit.PAUSE_COMMANDS)
        return audit.latest_pauses(events or [])


def _utc(job: StoredJob) -> str | None:
    """A row's ``next_run_time`` column as UTC ISO 8601, None when paused."""
    when = job.next_run_time
    if when is None:
        return None
    try:
        return datetime.fromtimestamp(when, UTC).isoformat()
    except (OverflowError, ValueError, OSError, TypeError):
        return str(when)


def _first_line(exc: BaseException, url: str) -> str:
    """The driver's own first line of the error behind ``exc``, the URL's password
    masked (the store's name and hint are already in the command's output)."""
    cause = exc.__cause__
    orig = getattr(cause, "orig", cause) or exc
    lines = str(orig).strip().splitlines()
    return redact(lines[0] if lines else type(orig).__name__, url)


def _replacement_change(
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
