"""One manual run as it goes (:class:`ManualRun`: what it runs, its thread, its outcome)
and the call in its thread, which catches whatever the task raises (:func:`execute`)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from whalefall_sched.services.action_dto import ManualRunResult

logger = logging.getLogger("whalefall_sched.actions")

#: What a manual run's thread catches and logs instead of propagating (as the seed says):
#: anything. ``SystemExit`` and ``KeyboardInterrupt`` too: the task did not return, so it
#: failed (APScheduler's executors count any ``BaseException`` as a job error), and a
#: thread would otherwise swallow the one silently and print the other as a traceback.
BACKGROUND_EXECUTION_EXCEPTIONS: tuple[type[BaseException], ...] = (BaseException,)


def _call(target: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> None:
    """Call a task function; an ``async def`` one is run to completion in this thread.

    APScheduler's thread pool would leave its coroutine unawaited, but an operator running
    a job by hand expects it to run.
    """
    result = target(*args, **kwargs)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def error_text(exc: BaseException) -> str:
    """What a run's ``error`` says of the exception that ended its task."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: the task called sys.exit({exc.code!r})"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no message)"


@dataclass
class ManualRun:
    """One manual run: the job and the call it makes, its thread, how it ended."""

    job_id: str
    thread_name: str
    func_ref: str
    args: list[Any]
    kwargs: dict[str, Any]
    #: What the operator should know about the run (an unlisted function allowed, say).
    notes: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None
    #: The job's name (recorded in the run history).
    name: str | None = None
    error: str | None = None
    duration: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def result(self, **changes: Any) -> ManualRunResult:
        """The run's result as it stands, with ``changes``."""
        values: dict[str, Any] = {
            "id": self.job_id,
            "thread_name": self.thread_name,
            "succeeded": self.done.is_set() and self.error is None,
            "duration_seconds": round(self.duration, 3),
            "func": self.func_ref,
            "args": self.args,
            "kwargs": self.kwargs,
            "error": self.error,
            "notes": list(self.notes),
        }
        return ManualRunResult(**(values | changes))


def execute(
    run: ManualRun,
    target: Callable[..., Any],
    app_context: Callable[[], Any] | None,
) -> None:
    """The body of a run's thread: call ``target`` (in ``app_context`` when given); the
    run's ``error``, ``duration`` and ``done`` are set whatever it raises."""
    start = time.monotonic()
    try:
        if app_context is None:
            _call(target, run.args, run.kwargs)
        else:
            with app_context():
                _call(target, run.args, run.kwargs)
    except BACKGROUND_EXECUTION_EXCEPTIONS as exc:
        logger.error("manual run of job %s failed", run.job_id, exc_info=True)
        run.error = error_text(exc)
    finally:
        run.duration = time.monotonic() - start
        run.done.set()
