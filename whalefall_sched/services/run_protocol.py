"""A manual run's child process, both ends: what the child does and says (``started``,
``refused``, ``finished``: :func:`child_body`), and the result the parent makes of what
it said and how it ended (:func:`child_result`)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from whalefall_sched.errors import StoreConflictError
from whalefall_sched.services.action_dto import ManualRunResult
from whalefall_sched.services.child_process import CRASHED, ChildEnd, Send
from whalefall_sched.services.run_state import ManualRun

#: How the child starts a run's thread: ``start(run, ready=...)`` imports the function,
#: calls ``ready``, starts the thread and returns it.
StartRun = Callable[..., threading.Thread]


def child_body(run: ManualRun, start: StartRun) -> Callable[[Send], None]:
    """What the run's child process does: start the run's thread, tell the parent it
    started (or why it was refused), wait for it, tell the parent how it finished."""

    def body(send: Send) -> None:  # pragma: no cover - runs in the child
        os.dup2(2, 1)  # what the task writes to stdout (C code included) goes to stderr
        before = set(threading.enumerate())
        try:
            thread = start(
                run,
                ready=lambda: send(
                    {"event": "started", "thread": run.thread_name, "pid": os.getpid()}
                ),
            )
        except StoreConflictError as exc:
            send({"event": "refused", "message": str(exc)})
            return
        thread.join()
        left = [t.name for t in threading.enumerate() if t.is_alive() and t not in before]
        send(
            {
                "event": "finished",
                "error": run.error,
                "duration": run.duration,
                "left_running": left,
            }
        )

    return body


def _process_end_text(returncode: int) -> str:
    """Why a run's process ended before the task returned, from its exit status."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the task's process was killed by {name} before the task returned"
    return (
        f"the task ended its process with exit status {returncode} "
        f"(os._exit({returncode}) or the like) before it returned"
    )


def child_result(run: ManualRun, end: ChildEnd, timeout: float | None) -> ManualRunResult:
    """The result of a run in a child process, from what the child said and how it ended."""
    said = {str(m.get("event")): m for m in end.messages}
    if "refused" in said:
        raise StoreConflictError(str(said["refused"].get("message")))
    common: dict[str, Any] = {"pid": end.pid, "timeout_seconds": timeout}
    finished = said.get("finished")
    if finished is not None:
        error = finished.get("error")
        left = [str(name) for name in finished.get("left_running") or []]
        notes = list(run.notes)
        if left:
            notes.append(
                f"the task left {len(left)} thread(s) running ({', '.join(left)}); "
                "they were stopped with its process"
            )
        return run.result(
            succeeded=error is None,
            error=None if error is None else str(error),
            duration_seconds=round(float(finished.get("duration") or 0.0), 3),
            threads_left_running=left,
            notes=notes,
            **common,
        )
    if CRASHED in said:
        error = f"the run's process failed: {said[CRASHED].get('error')}"
    elif end.timed_out:
        error = (
            f"the task was still running at the --timeout of {timeout:g}s; "
            f"its process (pid {end.pid}) was killed"
        )
    else:
        error = _process_end_text(end.returncode)
    return run.result(
        succeeded=False,
        timed_out=end.timed_out,
        error=error,
        duration_seconds=round(end.seconds, 3),
        **common,
    )
