"""Removing jobs (``delete``): what the host API's ``DELETE /jobs/<id>`` does, every row
backed up first, each delete a compare-and-swap under the due-row guard
(docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whalefall_sched.errors import ExitCode, WhaleFallSchedError
from whalefall_sched.services.actions_base import ActionsBase
from whalefall_sched.services.job_ids import find_job


@dataclass(frozen=True)
class JobDeleteOutcome:
    """One id given to ``delete``: the id deleted, or the error."""

    given: str
    #: The id of the row deleted (the id given, or the id of the job so named).
    id: str | None = None
    error: WhaleFallSchedError | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobDeleteResult:
    """A ``delete`` of several ids: one outcome per id, in the order given."""

    outcomes: list[JobDeleteOutcome]
    #: The backup of every row taken before the first delete (None without one).
    backup_path: str | None = None

    @property
    def deleted(self) -> list[str]:
        return [o.id for o in self.outcomes if o.id is not None and o.error is None]

    @property
    def errors(self) -> list[tuple[str, WhaleFallSchedError]]:
        return [(o.given, o.error) for o in self.outcomes if o.error is not None]

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(n for o in self.outcomes for n in o.notes))

    @property
    def exit_code(self) -> int:
        """0, or the exit code of the first id that failed."""
        errors = self.errors
        return int(errors[0][1].exit_code) if errors else int(ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        """``{"deleted": [...], "backup_path", "errors": [{"id", "error"}...], "error"}``."""
        errors = [{"id": given, "error": error.to_dict()} for given, error in self.errors]
        return {
            "deleted": self.deleted,
            "backup_path": self.backup_path,
            "errors": errors,
            "error": errors[0]["error"] if errors else None,
            "notes": self.notes,
        }


class JobDeletes(ActionsBase):
    """``delete`` over one store: ids resolved first (read-only), then each deleted."""

    def resolve_ids(self, job_ids: Sequence[str]) -> list[JobDeleteOutcome]:
        """Each id given once, in order: the stored id it names (an id, or a job's exact
        name), or why none (not found, exit 3, with the nearest ids). Read-only."""
        self._repo.require_store()  # a missing store is one error, not one per id
        resolved: list[JobDeleteOutcome] = []
        for given in dict.fromkeys(job_ids):
            try:
                resolved.append(JobDeleteOutcome(given, find_job(self._repo, given).id))
            except WhaleFallSchedError as exc:
                resolved.append(JobDeleteOutcome(given, error=exc))
        return resolved

    def delete_jobs(
        self, resolved: Sequence[JobDeleteOutcome], *, backup_dir: Path | None
    ) -> JobDeleteResult:
        """Delete each resolved id (from :meth:`resolve_ids`), one failure not stopping
        the others. Every row is saved to ``backup_dir`` first (``restore`` puts back
        every job of that backup); each delete is a compare-and-swap under the due-row
        guard, so a live scheduler's ``update_job`` never meets a vanished row."""
        targets = [o for o in resolved if o.error is None and o.id is not None]
        backup = None
        if targets and backup_dir is not None:
            backup = self._repo.backup_rows(backup_dir)
        outcomes: list[JobDeleteOutcome] = []
        done: set[str] = set()
        for outcome in resolved:
            if outcome.error is not None or outcome.id is None:
                outcomes.append(outcome)
                continue
            if outcome.id in done:  # an id and a name of the same job
                continue
            try:
                removed = self._repo.delete_job(outcome.id, event=self._audit.entry("delete"))
            except WhaleFallSchedError as exc:
                outcomes.append(JobDeleteOutcome(outcome.given, outcome.id, exc))
                continue
            done.add(outcome.id)
            outcomes.append(JobDeleteOutcome(outcome.given, outcome.id, notes=removed.notes))
        return JobDeleteResult(outcomes, str(backup) if backup is not None else None)
