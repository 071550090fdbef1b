"""Result objects of the actions on jobs: a pause or resume (of one id and of several)
and a manual run; the CLI renders them as tables or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from whalefall_sched.errors import (
    ExitCode,
    JobRunFailedError,
    JobRunTimedOutError,
    WhaleFallSchedError,
)
from whalefall_sched.services.dto import _Dict


@dataclass(frozen=True)
class JobActionResult(_Dict):
    """Outcome of a pause or resume of one job."""

    TIME_FIELDS = ("next_run_time",)

    id: str
    action: str
    #: False when the job already was in the wanted state (a no-op).
    changed: bool
    state: str
    next_run_time: str | None
    message: str
    #: What the operator should know, e.g. when a running scheduler will see the change.
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobActionOutcome:
    """One id of a pause or resume: ``done`` with its result, or ``failed`` with its error."""

    id: str
    result: JobActionResult | None = None
    error: WhaleFallSchedError | None = None

    @property
    def outcome(self) -> Literal["done", "failed"]:
        """``done`` or ``failed``."""
        return "failed" if self.error is not None else "done"


@dataclass(frozen=True)
class JobActionsResult:
    """A pause or resume of several ids: one outcome per id, in the order given.

    One failed id does not stop the others; the first failure decides the exit code.
    """

    action: str
    outcomes: list[JobActionOutcome]

    @property
    def results(self) -> list[JobActionResult]:
        """The ids that were done."""
        return [o.result for o in self.outcomes if o.result is not None]

    @property
    def errors(self) -> list[tuple[str, WhaleFallSchedError]]:
        """``(id, error)`` of each id that failed."""
        return [(o.id, o.error) for o in self.outcomes if o.error is not None]

    @property
    def status(self) -> Literal["success", "partial", "error"]:
        """``success`` (every id done), ``partial`` (some failed) or ``error`` (all failed)."""
        failed = len(self.errors)
        if not failed:
            return "success"
        return "partial" if failed < len(self.outcomes) else "error"

    @property
    def exit_code(self) -> ExitCode:
        """0, or the exit code of the first id that failed."""
        errors = self.errors
        return errors[0][1].exit_code if errors else ExitCode.OK

    @property
    def notes(self) -> list[str]:
        """Every note of the ids done, each once."""
        return list(dict.fromkeys(note for r in self.results for note in r.notes))

    def to_dict(self) -> dict[str, Any]:
        """``{"results": [...], "errors": [{"id", "error"}...], "error": ...}``: ``error``
        is the first id's error, None when every id was done."""
        errors = [{"id": job_id, "error": error.to_dict()} for job_id, error in self.errors]
        document: dict[str, Any] = {"results": [r.to_dict() for r in self.results]}
        document["errors"] = errors
        document["error"] = errors[0]["error"] if errors else None
        return document


@dataclass(frozen=True)
class ManualRunResult(_Dict):
    """Outcome of a manual run: it returned, failed, or timed out.

    ``succeeded`` is False whenever the function did not return: it raised anything
    (``SystemExit`` and ``KeyboardInterrupt`` included), ended its process
    (``os._exit``), or ran past the timeout (``timed_out``).
    """

    id: str
    thread_name: str
    succeeded: bool
    duration_seconds: float
    func: str
    args: list[Any]
    kwargs: dict[str, Any]
    error: str | None = None
    #: True when the run was still going at the timeout (then stopped or abandoned).
    timed_out: bool = False
    #: The timeout that applied, None for none.
    timeout_seconds: float | None = None
    #: The process the task ran in, when ``run`` gave it one of its own.
    pid: int | None = None
    #: Threads the task started and left running; they ended with its process.
    threads_left_running: list[str] = field(default_factory=list)
    #: What the operator should know about the run.
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """0 when the function returned, 6 when it timed out, 1 otherwise."""
        if self.succeeded:
            return ExitCode.OK
        if self.timed_out:
            return JobRunTimedOutError.exit_code
        return JobRunFailedError.exit_code

    def error_dict(self) -> dict[str, Any] | None:
        """The error object of a run that did not succeed (``run_failed`` or
        ``run_timeout``), None for a success."""
        if self.succeeded:
            return None
        kind = JobRunTimedOutError if self.timed_out else JobRunFailedError
        return kind(self.error or "the task did not complete").to_dict()
