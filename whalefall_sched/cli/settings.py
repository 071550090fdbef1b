"""Global options, resolved once: option > environment variable > tasks file > default."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository
    from whalefall_sched.services import (
        SchedulerActionsService,
        SchedulerJobsReadService,
    )
    from whalefall_sched.services.tasks_file import TasksFile

DEFAULT_URL = "sqlite:///userdata/scheduler.db"
DEFAULT_TABLE = "apscheduler_jobs"


@dataclass
class Settings:
    """What the global options say; builds the repository and services on demand."""

    url: str = DEFAULT_URL
    table: str = DEFAULT_TABLE
    schema: str | None = None
    tasks_path: Path | None = None
    config_path: Path | None = None
    app_paths: list[str] = field(default_factory=list)
    timeout: float = 5.0
    wait: float = 10.0
    debug: bool = False
    #: ``--reason`` and ``--actor``: recorded with every write's event (services/audit.py).
    reason: str | None = None
    actor: str | None = None
    _repo: JobStoreRepository | None = None
    _tasks: TasksFile | None = None

    def repository(self) -> JobStoreRepository:
        """The store's repository (one per process)."""
        if self._repo is None:
            from whalefall_sched.repository import JobStoreRepository

            self._repo = JobStoreRepository(
                self.url,
                table=self.table,
                schema=self.schema,
                timeout=self.timeout,
                wait=self.wait,
            )
        return self._repo

    def tasks(self) -> TasksFile:
        """The parsed tasks file (the bundled example unless ``--tasks``)."""
        if self._tasks is None:
            from whalefall_sched.services.tasks_file import load_tasks_file

            self._tasks = load_tasks_file(self.tasks_path, self.config_path)
        return self._tasks

    def _tasks_for_reading(self) -> TasksFile | None:
        """The tasks file, or None after a one-line warning when it is invalid.

        ``list`` and ``get`` then show ``is_builtin`` and ``description`` as unknown
        instead of failing.
        """
        from whalefall_sched.errors import TasksFileError

        try:
            return self.tasks()
        except TasksFileError as exc:
            from whalefall_sched.cli.render import note

            note(f"warning: {exc}; is_builtin unknown")
            return None

    def read_service(self) -> SchedulerJobsReadService:
        """The seed's read service over this store; it reads the tasks file only to show
        a job (``status`` never does)."""
        from whalefall_sched.services import SchedulerJobsReadService

        return SchedulerJobsReadService(self.repository(), self._tasks_for_reading)

    def actions_service(self, app_factory: str | None = None) -> SchedulerActionsService:
        """The seed's actions service over this store; it reads the tasks file only for
        ``run`` and ``reload``."""
        from whalefall_sched.services import SchedulerActionsService
        from whalefall_sched.services.audit import Audit

        audit = Audit(self.actor, self.reason) if self.actor else Audit(reason=self.reason)
        return SchedulerActionsService(
            self.repository(),
            self.tasks,
            app_factory=app_factory,
            app_paths=self.app_paths,
            audit=audit,
        )

    def close(self) -> None:
        """Release the store's connections."""
        if self._repo is not None:
            self._repo.close()
