"""A manual run's record in the tool's own history table (``whalefall_sched_runs``):
``running`` before the task starts, completed or failed after."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from whalefall_sched.repository.history_tables import OWN_RUNS
from whalefall_sched.repository.own_runs import own_writer

logger = logging.getLogger("whalefall_sched.history")


@dataclass
class ManualRunRecord:
    """The tool's own record of one ``run``: a ``running`` row before the task starts,
    completed or failed after. Recording never fails the run: a problem is returned as
    a note."""

    url: str
    schema: str | None
    timeout: float
    job_id: str
    task_name: str | None
    created_by: int | None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: datetime | None = None
    problem: str | None = None

    def start(self) -> None:
        """Write the ``running`` row (the table is created if need be)."""
        self.started = datetime.now(UTC)
        self._write(
            lambda writer: writer.insert(
                {
                    "id": self.run_id,
                    "task_id": self.job_id,
                    "task_name": self.task_name,
                    "trigger_source": "manual",
                    "created_by": None if self.created_by is None else str(self.created_by),
                    "status": "running",
                    "started_at": self.started,
                }
            )
        )

    def finish(self, *, succeeded: bool, error: str | None) -> None:
        """Write the outcome. ``duration_ms`` is ``completed_at - started_at``, as the
        host's ``task_runs`` gives it (the child process's start and end included)."""
        if self.started is None or self.problem is not None:
            return
        completed = datetime.now(UTC)
        duration_ms = max(0, round((completed - self.started).total_seconds() * 1000))
        self._write(
            lambda writer: writer.update(
                self.run_id,
                {
                    "status": "completed" if succeeded else "failed",
                    "completed_at": completed,
                    "duration_ms": duration_ms,
                    "error_message": error,
                },
            )
        )

    def _write(self, action: Any) -> None:
        connection = None
        try:
            writer, connection = own_writer(self.url, schema=self.schema, timeout=self.timeout)
            action(writer)
        except Exception as exc:
            from whalefall_sched.masking import redact

            self.problem = f"the run was not recorded in {OWN_RUNS}: {redact(str(exc), self.url)}"
            logger.debug("recording a manual run failed", exc_info=True)
        finally:
            if connection is not None:
                connection.close()
