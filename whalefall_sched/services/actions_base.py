"""The state the actions service's parts share (``actions_service.py``,
``manual_run.py``, ``replacement.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services.tasks_file import TasksFile

if TYPE_CHECKING:
    from whalefall_sched.services.audit import Audit
    from whalefall_sched.services.run_state import ManualRun


class ActionsBase:
    """What every part of the actions service shares: the store, the tasks file, run options.

    ``tasks`` is the tasks file, or a function that reads it: then it is read only by
    what needs it (``run``, ``reload``), so pause, resume and restore work with a broken
    one.
    """

    def __init__(
        self,
        repository: JobStoreRepository,
        tasks: TasksFile | Callable[[], TasksFile],
        *,
        app_factory: str | None = None,
        app_paths: Sequence[str] = (),
        audit: Audit | None = None,
    ) -> None:
        self._repo = repository
        self._tasks_source = tasks
        self._app_factory = app_factory
        self._app_paths = list(app_paths)
        self._runs: dict[str, ManualRun] = {}
        self._audit_source = audit

    @property
    def _audit(self) -> Audit:
        """Who and why the writes are recorded as (services/audit.py)."""
        if self._audit_source is None:
            from whalefall_sched.services.audit import Audit

            self._audit_source = Audit()
        return self._audit_source

    @property
    def _tasks(self) -> TasksFile:
        """The tasks file, read the first time it is needed."""
        if not isinstance(self._tasks_source, TasksFile):
            self._tasks_source = self._tasks_source()
        return self._tasks_source
