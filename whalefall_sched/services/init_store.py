"""``init``: create the job store and register the default jobs, as ``reload`` writes them.

The rows come from the reload plan (:meth:`Replacements.plan_reload`); the store is
created, and the rows written, by the repository (:meth:`JobStoreRepository.create_store`).
A store that exists, even with an empty table, is refused and left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.services.dto import _Dict

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository
    from whalefall_sched.repository.store import StoreCreation
    from whalefall_sched.services.replacement import Replacements


@dataclass(frozen=True)
class StoreInitResult(_Dict):
    """What ``init`` created and registered (or, in a dry run, would)."""

    #: The store, as every message names it (URL with the password masked, table).
    store: str
    #: The SQLite directories created, outermost first (none on a server).
    directories: list[str]
    #: The SQLite file created (None on a server).
    file: str | None
    #: The job table created (``schema.table`` with a schema).
    table: str
    #: Ids of the jobs registered.
    registered: list[str]
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"store", "created": {"directories", "file", "table"}, "registered", ...}``."""
        return {
            "store": self.store,
            "created": {"directories": self.directories, "file": self.file, "table": self.table},
            "registered": list(self.registered),
            "registered_count": len(self.registered),
            "dry_run": self.dry_run,
            "notes": list(self.notes),
        }


def init_store(
    replacements: Replacements,
    repository: JobStoreRepository,
    *,
    dry_run: bool = False,
    verify_imports: bool = True,
    now: datetime | None = None,
) -> StoreInitResult:
    """Create the store and register the enabled default tasks (or show what would be).

    Refuses (:class:`~whalefall_sched.errors.StoreConflictError`) when the job table
    exists, before the tasks file is read; an invalid tasks file
    (:class:`~whalefall_sched.errors.TasksFileError`) creates nothing either.
    """
    planned = repository.creation()
    plan = replacements.plan_reload(verify_imports=verify_imports, now=now)
    event = replacements._audit.entry("init")
    done = planned if dry_run else repository.create_store(plan.rows, event=event)
    return _result(repository, done, [row.id for row in plan.rows], dry_run, plan.notes)


def _result(
    repository: JobStoreRepository,
    creation: StoreCreation,
    registered: list[str],
    dry_run: bool,
    notes: list[str],
) -> StoreInitResult:
    return StoreInitResult(
        store=repository.where,
        directories=[str(d) for d in creation.directories],
        file=str(creation.file) if creation.file is not None else None,
        table=creation.table,
        registered=registered,
        dry_run=dry_run,
        notes=list(notes),
    )
