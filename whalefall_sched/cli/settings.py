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
    from whalefall_sched.services.audit import Audit
    from whalefall_sched.services.history_dto import LastRun, SchedulerRuns
    from whalefall_sched.services.history_service import HistoryService
    from whalefall_sched.services.job_changes import JobChangesService
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
    #: The application's database holding the host's ``task_runs`` (``--history-url``).
    history_url: str | None = None
    #: ``--reason`` and ``--actor``: recorded with every write's event (services/audit.py).
    reason: str | None = None
    actor: str | None = None
    _repo: JobStoreRepository | None = None
    _history: HistoryService | None = None
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
        """The parsed tasks file for the host generation (README, "Host generations"):
        ``--tasks``, else the 2026-07 host's own file when ``--app-path`` is its
        checkout, else the bundled example."""
        if self._tasks is None:
            from whalefall_sched.services.tasks_file import load_tasks_file

            self._tasks = load_tasks_file(
                self.tasks_path, self.config_path, app_paths=self.app_paths
            )
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
        a job (``status`` never does), the run history only to fill ``last_run_time``
        and for ``status``'s liveness (the latest run the scheduler started)."""
        from whalefall_sched.services import SchedulerJobsReadService

        return SchedulerJobsReadService(
            self.repository(),
            self._tasks_for_reading,
            last_runs=self._last_runs,
            scheduler_runs=self._scheduler_runs,
        )

    def history(self) -> HistoryService:
        """The run history: the host's ``task_runs`` at ``--history-url``, else the tool's
        own table in the job store's database."""
        if self._history is None:
            from whalefall_sched.services.history_service import HistoryService

            self._history = HistoryService(
                self.repository(), self.history_url, timeout=self.timeout
            )
        return self._history

    def _last_runs(self) -> dict[str, LastRun] | None:
        """Each job's latest run for ``list``/``get``; None (after a one-line warning
        when the history cannot be read) without history."""
        from whalefall_sched.errors import WhaleFallSchedError

        try:
            return self.history().last_runs()
        except WhaleFallSchedError as exc:
            from whalefall_sched.cli.render import note

            note(f"warning: {self.redact(str(exc))}; last_run_time unknown")
            return None

    def _scheduler_runs(self) -> SchedulerRuns | None:
        """The history as ``status``'s evidence; an error that cannot be read is raised
        with the passwords masked (``status`` lists it in its notes)."""
        from whalefall_sched.errors import WhaleFallSchedError

        try:
            return self.history().scheduler_runs()
        except WhaleFallSchedError as exc:
            raise WhaleFallSchedError(self.redact(str(exc))) from exc

    def redact(self, text: str) -> str:
        """``text`` with the passwords of the store's and the history's URLs masked."""
        from whalefall_sched.masking import redact

        text = redact(text, self.url)
        return redact(text, self.history_url) if self.history_url else text

    def actions_service(self, app_factory: str | None = None) -> SchedulerActionsService:
        """The seed's actions service over this store; it reads the tasks file only for
        ``run`` and ``reload``."""
        from whalefall_sched.services import SchedulerActionsService

        service = SchedulerActionsService(
            self.repository(),
            self.tasks,
            app_factory=app_factory,
            app_paths=self.app_paths,
            audit=self.audit(),
        )
        # where the host records its runs in task_runs, `run` does not record them again
        service.record_runs = self.history_url is None
        return service

    def job_changes_service(self) -> JobChangesService:
        """``reschedule`` and ``delete`` over this store."""
        from whalefall_sched.services.job_changes import JobChangesService

        return JobChangesService(
            self.repository(), self.tasks, app_paths=self.app_paths, audit=self.audit()
        )

    def audit(self) -> Audit:
        """Who and why this invocation's writes are recorded as (``--actor``, ``--reason``)."""
        from whalefall_sched.services.audit import Audit

        return Audit(self.actor, self.reason) if self.actor else Audit(reason=self.reason)

    def close(self) -> None:
        """Release the store's (and the history's) connections."""
        if self._history is not None:
            self._history.close()
        if self._repo is not None:
            self._repo.close()
