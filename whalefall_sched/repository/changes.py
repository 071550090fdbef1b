"""Changing the job table: one job modified or deleted, or every job replaced.

:class:`StoreChanges` is the writing half of :class:`.store.JobStoreRepository` (which
inherits it). Every write is a compare-and-swap on the columns exactly as read
(:mod:`.writes`), prepared again from fresh rows when another process got there first,
and run under the due-row guard (:mod:`.due_row_guard`); its audit event goes in the
same transaction (:mod:`.audit_trail`). A store that does not exist is the
not-initialised conflict: nothing here creates one (:mod:`.creation` does, for ``init``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whalefall_sched.errors import StoreConflictError
from whalefall_sched.masking import mask_url
from whalefall_sched.repository import audit, backups, reads, writes
from whalefall_sched.repository.audit import AuditEntry
from whalefall_sched.repository.audit_trail import SortChanges, replacement_change, utc
from whalefall_sched.repository.connection import StoreConnection
from whalefall_sched.repository.due_row_guard import Attempt, DueRowGuard
from whalefall_sched.repository.rows import StoredJob, encode_row, read_row, select_rows
from whalefall_sched.repository.store_errors import TransientError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from whalefall_sched.repository.audit_trail import AuditTrail

#: How many times a write that lost a compare-and-swap is prepared again from fresh rows.
CAS_ATTEMPTS = 5


@dataclass(frozen=True)
class ModifyOutcome:
    """What :meth:`StoreChanges.modify_job` did: ``after`` is None for a no-op."""

    before: StoredJob
    after: StoredJob | None
    #: What the operator should know (e.g. a due job written without a scheduler moving it).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReplaceOutcome:
    """What :meth:`StoreChanges.replace_all` did."""

    removed: list[StoredJob]
    written: list[StoredJob]
    backup_path: Path | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeleteOutcome:
    """What :meth:`StoreChanges.delete_job` did: the row removed, as read."""

    removed: StoredJob
    notes: list[str] = field(default_factory=list)


class StoreChanges:
    """The writes of :class:`.store.JobStoreRepository`: modify, replace, back up, delete."""

    connection: StoreConnection
    #: Decides when a write may go ahead beside a live scheduler (``wait`` = --wait).
    guard: DueRowGuard
    #: Creates the audit table before a write and appends its event inside it.
    audit_trail: AuditTrail

    def _current(self, job_id: str) -> StoredJob | None:
        """The row as it is now, read on the writing connection (the guard's reader)."""
        conn = self.connection
        with conn.errors(), conn.engine("rw").connect() as c:
            return read_row(c, conn.table, job_id)

    # -- one job (pause, resume, reschedule) --------------------------------------------

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
        notes = [*done.notes, *self.audit_trail.take_notes()]
        return ModifyOutcome(done.result.before, done.result.after, notes)

    def _read_for_change(self, job_id: str) -> StoredJob:
        """The decoded row, or the reason it cannot be changed."""
        conn = self.connection
        with conn.errors(), conn.engine("rw").begin() as c:
            if not conn.has_table(c):
                raise conn.not_initialised()
            job = read_row(c, conn.table, job_id)
        if job is None:
            raise reads.not_found(conn, job_id)
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
        trail = self.audit_trail
        event = trail.ensure(event)  # before the transaction: MariaDB commits DDL
        try:
            with conn.errors(), conn.engine("rw").begin() as c:
                writes.cas_update(c, conn.table, before, after)
                if event is not None:
                    change = {"next_run_time": [utc(before), utc(after)]}
                    trail.append(c, event, [after.id], audit.DONE, change)
        except (writes.LostRaceError, TransientError):
            return False
        return True

    # -- every job (reload, restore) ----------------------------------------------------

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
        reads.require_store(conn)  # a misspelt URL must not become a new, empty store
        engine = conn.engine("rw")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        new = list(rows)

        def prepare() -> Attempt[ReplaceOutcome]:
            with conn.errors(), engine.connect() as c:
                # the guard, the backup and the compare-and-swap use the raw columns only
                current = select_rows(c, conn.table, decode=False)
            return Attempt(
                current,
                lambda: self._replace_once(
                    engine, new, backup_dir, stamp, event, sort_changes=sort_changes
                ),
                lambda outcome: {job.id: job for job in outcome.written},
            )

        def gave_up() -> StoreConflictError:
            return StoreConflictError(
                f"job store {conn.where} was changed by another process {attempts} times "
                "during the replacement; nothing written, try again"
            )

        done = self.guard.run(prepare, attempts=attempts, gave_up=gave_up)
        outcome = done.result
        notes = [*done.notes, *self.audit_trail.take_notes()]
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
        trail = self.audit_trail
        event = trail.ensure(event)  # before the transaction: MariaDB commits DDL
        try:
            with conn.errors(), engine.begin() as c:
                old = select_rows(c, conn.table, decode=False)
                backup = None
                if old and backup_dir is not None:
                    backup = backups.write_backup(
                        old,
                        backup_dir,
                        stamp,
                        store=mask_url(conn.url),
                        table=conn.table_name,
                        schema=conn.schema,
                    )
                writes.replace_rows(c, conn.table, old, new)
                if event is not None:
                    ids, change = replacement_change(old, new, sort_changes)
                    if backup is not None:
                        change["backup"] = str(backup)
                    # every row rewritten as it was (or none at all): nothing changed
                    outcome = audit.DONE if ids else audit.NO_OP
                    trail.append(c, event, ids, outcome, change)
        except (writes.LostRaceError, TransientError):
            return None
        return ReplaceOutcome(old, new, backup)

    # -- deleting (delete) --------------------------------------------------------------

    def backup_rows(self, backup_dir: Path) -> Path | None:
        """Save every row, raw and undecoded, to a backup ``restore`` reads; None when
        the table is empty. A store that does not exist is the not-initialised conflict."""
        conn = self.connection
        reads.require_store(conn)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        with conn.errors(), conn.engine("rw").connect() as c:
            rows = select_rows(c, conn.table, decode=False)
        if not rows:
            return None
        return backups.write_backup(
            rows,
            backup_dir,
            stamp,
            store=mask_url(conn.url),
            table=conn.table_name,
            schema=conn.schema,
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
                rows = select_rows(c, conn.table, job_id, decode=False)
            if not rows:
                raise reads.not_found(conn, job_id)
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
        return DeleteOutcome(done.result, [*done.notes, *self.audit_trail.take_notes()])

    def _cas_delete(self, before: StoredJob, event: AuditEntry | None = None) -> bool:
        """Delete the row if it still holds ``before``'s bytes; False if it moved."""
        conn = self.connection
        trail = self.audit_trail
        event = trail.ensure(event)  # before the transaction: MariaDB commits DDL
        try:
            with conn.errors(), conn.engine("rw").begin() as c:
                writes.cas_delete(c, conn.table, before)
                if event is not None:
                    change = {"next_run_time": [utc(before), None], "deleted": True}
                    trail.append(c, event, [before.id], audit.DONE, change)
        except (writes.LostRaceError, TransientError):
            return False
        return True
