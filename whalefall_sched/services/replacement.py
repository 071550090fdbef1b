"""``reload`` and ``restore``: one replacement of every job, with two sources of rows
(plan, preview, apply; docs/architecture.md)."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from whalefall_sched.errors import (
    InvalidInputError,
    TasksFileError,
)
from whalefall_sched.repository import StoredJob, encode_row, unsafe_reason
from whalefall_sched.repository.store import SortedChanges
from whalefall_sched.services.actions_base import ActionsBase
from whalefall_sched.services.diff import (
    REMOVED_DISABLED,
    REMOVED_NOT_IN_BACKUP,
    REMOVED_NOT_IN_FILE,
    Decoder,
    ReplacementDiff,
    ReplacementResult,
    replacement_diff,
)
from whalefall_sched.services.wake_up import after_commit, plausible, wake_up_notes

if TYPE_CHECKING:
    from whalefall_sched.services.init_store import StoreInitResult

#: The largest backup file ``restore`` reads.
MAX_BACKUP_BYTES = 256 * 1024 * 1024


def _check_backup_file(source: Path) -> None:
    """Refuse, before it is read, a backup that is not a regular file (``/dev/zero``, a
    pipe) or is larger than :data:`MAX_BACKUP_BYTES`: reading it would never end."""
    try:
        info = source.stat()
    except OSError:
        return  # reading it says why it cannot be read
    if stat.S_ISDIR(info.st_mode):
        return
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInputError(f"backup {source} is not a regular file")
    if info.st_size > MAX_BACKUP_BYTES:
        raise InvalidInputError(
            f"backup {source} is over the size limit: larger than {MAX_BACKUP_BYTES:,} bytes"
        )


@dataclass(frozen=True)
class Replacement:
    """A planned replacement of every job: the rows to write and where they come from."""

    rows: list[StoredJob]
    #: What the rows come from, for a prompt: the tasks file or the backup file.
    origin: str
    #: The backup file of a restore; None for a reload.
    restored_from: str | None = None
    #: What the operator should know about the plan (rows left out, say).
    notes: list[str] = field(default_factory=list)
    #: Ids the tasks file has but disables (``enabled: false``): why such a job goes.
    disabled: frozenset[str] = frozenset()
    #: Ids paused when the plan was made that ``--keep-paused`` writes paused.
    kept_paused: frozenset[str] | None = None

    def removal_reason(self, job_id: str) -> str:
        """Why the replacement removes ``job_id``."""
        if self.restored_from is not None:
            return REMOVED_NOT_IN_BACKUP
        return REMOVED_DISABLED if job_id in self.disabled else REMOVED_NOT_IN_FILE


class Replacements(ActionsBase):
    """The actions service's reload and restore."""

    def plan_reload(
        self,
        *,
        verify_imports: bool = True,
        now: datetime | None = None,
        keep_paused: bool = False,
    ) -> Replacement:
        """The rows a reload would write: the enabled default tasks, validated once.

        The tasks file is validated completely first (:class:`TasksFileError` lists
        every problem); nothing is written to the store. With ``keep_paused`` the jobs
        paused now are written paused (``next_run_time`` None, as stock ``pause_job``
        writes them); a task with ``paused: true`` always is.
        """
        from apscheduler.util import astimezone

        tasks = self._tasks
        try:
            now = now or datetime.now(astimezone(tasks.timezone))
        except Exception:  # noqa: BLE001 - the check below names the invalid zone
            now = datetime.now(UTC)
        # each trigger is built, and its next fire time found, once: by the check
        check = tasks.check(verify_imports=verify_imports, app_paths=self._app_paths, now=now)
        if check.problems:
            raise TasksFileError(f"tasks file {tasks.path} is invalid", check.problems)
        states = [tasks.job_state(t, now, check.built[t.id]) for t in tasks.tasks if t.enabled]
        kept: frozenset[str] | None = None
        if keep_paused:
            # ids and NULL next run times only: nothing decoded
            paused_now = {job_id for job_id, paused in self._repo.job_ids_and_states() if paused}
            kept = frozenset(state["id"] for state in states if state["id"] in paused_now)
            for state in states:
                if state["id"] in kept:
                    state["next_run_time"] = None
        disabled = frozenset(t.id for t in tasks.tasks if not t.enabled)
        return Replacement(
            [encode_row(state) for state in states],
            origin=str(tasks.path),
            disabled=disabled,
            kept_paused=kept,
        )

    def plan_restore(
        self, source: Path, *, allow_empty: bool = False, skip_invalid: bool = False
    ) -> Replacement:
        """The rows a restore would write: a reload backup's, read once, byte for byte.

        A backup is input from outside: every row must pass the restricted decoder and
        agree with itself (:func:`~whalefall_sched.repository.unsafe_reason`), or the
        restore is refused (:class:`InvalidInputError` naming each row) — unless
        ``skip_invalid``, which leaves those rows out with a note. An empty backup would
        delete every job: refused unless ``allow_empty``.
        """
        _check_backup_file(source)
        rows = self._repo.read_backup(source)
        problems = [(row.id, reason) for row in rows if (reason := unsafe_reason(row))]
        notes: list[str] = []
        if problems and not skip_invalid:
            listed = "; ".join(f"{job_id!r}: {reason}" for job_id, reason in problems[:5])
            more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise InvalidInputError(
                f"backup {source} holds {len(problems)} row(s) that must not be written: "
                f"{listed}{more}; nothing changed (--skip-invalid restores the others)"
            )
        if problems:
            bad = {job_id for job_id, _ in problems}
            rows = [row for row in rows if row.id not in bad]
            notes.append(f"left out {len(bad)} invalid row(s): {', '.join(sorted(bad))}")
        if not rows and not allow_empty:
            raise InvalidInputError(
                f"backup {source} holds no row to restore: restoring it would delete every "
                "job; nothing changed (--allow-empty to do so)"
            )
        return Replacement(rows, origin=str(source), restored_from=str(source), notes=notes)

    def _diff(self, plan: Replacement, old: Sequence[StoredJob]) -> ReplacementDiff:
        """Per job what replacing ``old`` by ``plan``'s rows does; old rows decoded
        here, each once per service (the preview's and the report's shared)."""
        decoder = getattr(self, "_diff_decoder", None)
        if decoder is None:
            decoder = Decoder()
            self._diff_decoder = decoder
        return replacement_diff(old, plan.rows, removal_reason=plan.removal_reason, decode=decoder)

    def preview(self, plan: Replacement) -> ReplacementResult:
        """What ``plan`` would do, job by job (a dry run, the prompt); changes nothing."""
        old = self._repo.replaced_rows()
        return ReplacementResult(
            deleted=[job.id for job in old],
            written=[row.id for row in plan.rows],
            dry_run=True,
            notes=list(plan.notes),
            restored_from=plan.restored_from,
            diff=self._diff(plan, old),
        )

    def apply(self, plan: Replacement, *, backup_dir: Path | None) -> ReplacementResult:
        """Replace every job by ``plan``'s rows in one transaction: all or nothing.

        Ids present before and after are rewritten in place; the old rows are saved to
        ``backup_dir`` first, so the replacement can itself be restored. The old rows
        are decoded for the report's diff only after the commit.
        """
        command = "reload" if plan.restored_from is None else "restore"
        event = self._audit.entry(command)
        outcome = self._repo.replace_all(
            plan.rows,
            backup_dir=backup_dir,
            event=event,
            sort_changes=lambda old, _new: _sorted_as_diffed(self._diff(plan, old)),
        )
        # Committed: from here on nothing may turn the report into a failure.
        notes = [*plan.notes, *outcome.notes]
        if outcome.removed:  # with no old jobs, no scheduler can be waiting on this store
            notes += after_commit(
                lambda: self._replacement_wake_up_notes(outcome.removed, outcome.written)
            )
        if plan.kept_paused is not None:
            notes += _paused_meanwhile(plan, outcome.removed)
        try:
            diff = self._diff(plan, outcome.removed)
        except Exception as exc:  # noqa: BLE001 - committed: a report, never a failure
            diff = ReplacementDiff()
            notes.append(f"could not work out the diff of the old rows ({exc})")
        return ReplacementResult(
            deleted=[job.id for job in outcome.removed],
            written=[job.id for job in outcome.written],
            backup_path=str(outcome.backup_path) if outcome.backup_path else None,
            notes=notes,
            restored_from=plan.restored_from,
            diff=diff,
        )

    def _replacement_wake_up_notes(
        self, removed: Sequence[StoredJob], written: Sequence[StoredJob]
    ) -> list[str]:
        """When a scheduler that knew the removed rows wakes, and which new jobs are due first."""
        times = [job.next_run_time for job in removed if job.next_run_time is not None]
        planned = min((t for t in times if plausible(t)), default=None)
        new_times = {
            row.id: (row.decoded["next_run_time"], row.decoded.get("misfire_grace_time"))
            for row in written
            if row.decoded is not None and isinstance(row.decoded.get("next_run_time"), datetime)
        }
        return wake_up_notes(self._repo, new_times, planned)

    def reload_jobs(
        self,
        *,
        dry_run: bool = False,
        backup_dir: Path | None = None,
        verify_imports: bool = True,
        now: datetime | None = None,
        keep_paused: bool = False,
    ) -> ReplacementResult:
        """Replace every job by the enabled default tasks (or show what would change)."""
        plan = self.plan_reload(verify_imports=verify_imports, now=now, keep_paused=keep_paused)
        return self.preview(plan) if dry_run else self.apply(plan, backup_dir=backup_dir)

    def restore_jobs(
        self,
        source: Path,
        *,
        dry_run: bool = False,
        backup_dir: Path | None = None,
        allow_empty: bool = False,
        skip_invalid: bool = False,
    ) -> ReplacementResult:
        """Replace every job by the rows of a reload backup (or show what would change)."""
        plan = self.plan_restore(source, allow_empty=allow_empty, skip_invalid=skip_invalid)
        return self.preview(plan) if dry_run else self.apply(plan, backup_dir=backup_dir)

    # -- init: the reload plan written into a store created for it ------------------

    def init_store(
        self, *, dry_run: bool = False, verify_imports: bool = True, now: datetime | None = None
    ) -> StoreInitResult:
        """Create the store and register the enabled default tasks, as a reload writes
        them; refused when the store exists (``services/init_store.py``)."""
        from whalefall_sched.services.init_store import init_store

        return init_store(self, self._repo, dry_run=dry_run, verify_imports=verify_imports, now=now)


def _paused_meanwhile(plan: Replacement, removed: Sequence[StoredJob]) -> list[str]:
    """Notes on jobs paused between ``--keep-paused``'s plan and the write: they were
    resumed by it."""
    running = {row.id for row in plan.rows if row.next_run_time is not None}
    late = sorted(job.id for job in removed if job.next_run_time is None and job.id in running)
    if not late:
        return []
    return [
        f"paused while the reload was prepared, so written running: {', '.join(late)} "
        "(pause them again)"
    ]


def _sorted_as_diffed(diff: ReplacementDiff) -> SortedChanges:
    """The event's ids as the diff sorts them: a job whose fields are the same is
    unchanged (its next run time aside); one only paused or resumed is changed."""
    changed = {job.id for job in diff.changed} | set(diff.resumed) | set(diff.paused)
    return SortedChanges(
        added=list(diff.added),
        removed=[job.id for job in diff.removed],
        changed=sorted(changed),
        unchanged=len(diff.unchanged),
    )
