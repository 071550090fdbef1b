"""The job store repository: the one object the services use to read and write a store.

A thin facade over the modules that do the work: :mod:`.connection` (URL, engines,
errors), :mod:`.sqlite_files` (journal and WAL files, the lock file), :mod:`.rows`
(decoding), :mod:`.due_row_guard` (writing beside a live scheduler), :mod:`.writes`
(compare-and-swap statements) and :mod:`.backups`. Reads open SQLite read-only and never
create, alter or delete anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from whalefall_sched.errors import JobNotFoundError, StoreConflictError, StoreSystemError
from whalefall_sched.masking import mask_url
from whalefall_sched.repository import backups, writes
from whalefall_sched.repository.connection import StoreConnection, TransientError
from whalefall_sched.repository.due_row_guard import Attempt, DueRowGuard
from whalefall_sched.repository.rows import StoredJob, encode_row, read_row, select_rows
from whalefall_sched.repository.sqlite_files import (
    SchedulerLock,
    hot_journal,
    probe_scheduler_lock,
    read_recovered_copy,
    unfinished_wal,
)

if TYPE_CHECKING:
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
class ReplaceOutcome:
    """What :meth:`JobStoreRepository.replace_all` did."""

    removed: list[StoredJob]
    written: list[StoredJob]
    backup_path: Path | None
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
        """Run ``query`` on a read-only connection; never write the store.

        Past a hot journal or an unfinished WAL left by a killed writer, the query runs on
        a recovered private copy (:func:`.sqlite_files.read_recovered_copy`).
        """
        from sqlalchemy.exc import OperationalError

        conn = self.connection
        path = conn.sqlite_path()
        if path is not None and unfinished_wal(path):
            return read_recovered_copy(path, query, conn.errors)
        try:
            with conn.errors(), conn.engine("ro").connect() as c:
                return query(c)
        except StoreSystemError as exc:
            if not (path is not None and hot_journal(path)):
                raise
            if not isinstance(exc.__cause__, OperationalError):
                raise
            return read_recovered_copy(path, query, conn.errors)

    def exists(self) -> bool:
        """Whether the store (file and table) exists. Creates nothing."""
        path = self.sqlite_path()
        if path is not None and not path.exists():
            return False
        return self._read(self.connection.has_table)

    def list_jobs(self, *, missing_ok: bool = False) -> list[StoredJob]:
        """Every row. A missing store raises a conflict unless ``missing_ok``."""
        path = self.sqlite_path()
        if path is not None and not path.exists():
            if missing_ok:
                return []
            raise self.connection.not_initialised()

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

        def query(c: Connection) -> list[StoredJob] | None:
            return select_rows(c, self.table, job_id) if self.connection.has_table(c) else None

        rows = self._read(query)
        if rows is None:
            raise self.connection.not_initialised()
        if not rows:
            raise self._not_found(job_id)
        return rows[0]

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
    ) -> ModifyOutcome:
        """Apply ``change`` to a job's state with compare-and-swap, guarded against a scheduler.

        ``change`` gets the decoded row and returns the new state, or None for a no-op;
        it may raise to refuse. A row changed by someone else between read and write is
        re-read and ``change`` applied again, up to ``attempts`` times.
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
                lambda: ModifyOutcome(before, after) if self._cas_write(before, after) else None,
                lambda outcome: {job_id: outcome.after},
            )

        def gave_up() -> StoreConflictError:
            return StoreConflictError(
                f"job {job_id!r} was changed by another process {attempts} times while "
                "being written; the last change is kept, try again"
            )

        done = self.guard.run(prepare, attempts=attempts, gave_up=gave_up)
        return ModifyOutcome(done.result.before, done.result.after, done.notes)

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

    def _cas_write(self, before: StoredJob, after: StoredJob) -> bool:
        """Write ``after`` if the row still holds ``before``'s bytes; False if it moved."""
        conn = self.connection
        try:
            with conn.errors(), conn.engine("rw").begin() as c:
                writes.cas_update(c, self.table, before, after)
        except (writes.LostRaceError, TransientError):
            return False
        return True

    def replaced_rows(self) -> list[StoredJob]:
        """The rows :meth:`replace_all` would remove, for a preview: read-only, columns
        checked but not decoded (a replacement needs ids, not states); none for a
        missing store."""
        path = self.sqlite_path()
        if path is not None and not path.exists():
            return []

        def query(c: Connection) -> list[StoredJob]:
            has = self.connection.has_table(c)
            return select_rows(c, self.table, decode=False) if has else []

        return self._read(query)

    def replace_all(
        self,
        rows: Sequence[StoredJob],
        *,
        backup_dir: Path | None,
        attempts: int = CAS_ATTEMPTS,
    ) -> ReplaceOutcome:
        """Replace every job by ``rows`` in one transaction; all or nothing.

        Reload writes rows made by :func:`.rows.encode_row`; restore writes a backup's rows
        byte for byte. Creates the table if missing (as the stock store does on start).
        Every update and delete is a compare-and-swap, so a concurrent change aborts the
        whole transaction, which is then prepared again. The rows removed or rewritten
        are saved to ``backup_dir`` first. Due rows are left to a live scheduler to move
        on first (see :mod:`.due_row_guard`). The rows removed (``ReplaceOutcome.removed``)
        are read, not decoded: ids, next run times and bytes are all a replacement needs.
        """
        conn = self.connection
        engine = conn.engine("rwc")
        with conn.errors():
            self.table.create(engine, checkfirst=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        new = list(rows)

        def prepare() -> Attempt[ReplaceOutcome]:
            with conn.errors(), engine.connect() as c:
                # the guard, the backup and the compare-and-swap use the raw columns only
                current = select_rows(c, self.table, decode=False)
            return Attempt(
                current,
                lambda: self._replace_once(engine, new, backup_dir, stamp),
                lambda outcome: {job.id: job for job in outcome.written},
            )

        def gave_up() -> StoreConflictError:
            return StoreConflictError(
                f"job store {self.where} was changed by another process {attempts} times "
                "during the replacement; nothing written, try again"
            )

        done = self.guard.run(prepare, attempts=attempts, gave_up=gave_up)
        outcome = done.result
        return ReplaceOutcome(outcome.removed, outcome.written, outcome.backup_path, done.notes)

    def _replace_once(
        self, engine: Engine, new: list[StoredJob], backup_dir: Path | None, stamp: str
    ) -> ReplaceOutcome | None:
        """One all-or-nothing attempt; None if the store moved (rolled back)."""
        conn = self.connection
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
        except (writes.LostRaceError, TransientError):
            return None
        return ReplaceOutcome(old, new, backup)
