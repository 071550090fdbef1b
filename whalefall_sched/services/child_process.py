"""One piece of work in a forked child process that the parent can always report on.

:func:`run_in_child` forks. The child becomes the leader of a process group of its own,
runs ``body(send)`` and ends with ``os._exit``: nothing it leaves behind (threads,
``atexit`` handlers, an ``os._exit`` of its own) can end or hold up the parent. The
parent reads the child's messages (JSON lines on a pipe) as they come, kills the child's
process group at the deadline, and returns how the child ended. If the parent goes away
first (killed, its terminal hung up), the child kills its own group.

POSIX only (``os.fork``). Why a child process rather than a thread: docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

logger = logging.getLogger("whalefall_sched.actions")

#: What the child's body calls to send the parent one message (a JSON object).
Send = Callable[[dict[str, Any]], None]

#: The child's exit status when its body raised (``EX_SOFTWARE``); it sends
#: ``{"event": CRASHED, "error": ...}`` first.
BODY_RAISED = 70
CRASHED = "crashed"
#: The child's thread that ends it when the parent is gone.
WATCHER_THREAD = "whalefall-sched-parent-watch"
#: How often the parent looks whether the child has ended, in seconds.
_POLL = 0.05


@dataclass(frozen=True)
class ChildEnd:
    """How a child process ended, and what it said before."""

    pid: int
    #: The messages the child sent, in order.
    messages: list[dict[str, Any]]
    #: As ``subprocess`` reports it: the exit status, or minus the signal that ended it.
    returncode: int
    #: True when the parent killed the child at the deadline.
    timed_out: bool
    #: From the fork to the child's end.
    seconds: float


def can_fork() -> bool:
    """Whether this platform can run work in a child process (POSIX)."""
    return hasattr(os, "fork")


def run_in_child(
    body: Callable[[Send], None],
    *,
    timeout: float | None = None,
    on_message: Callable[[dict[str, Any]], None] | None = None,
) -> ChildEnd:
    """Run ``body(send)`` in a forked child and wait for it, at most ``timeout`` seconds.

    ``on_message`` sees each message as it arrives. At the deadline the child's process
    group is killed (``SIGKILL``) and the result says ``timed_out``. An exception in the
    parent while it waits (Ctrl-C) kills the child's group too, then propagates.
    """
    # anything still buffered would otherwise be written again by the child
    sys.stdout.flush()
    sys.stderr.flush()
    messages_r, messages_w = os.pipe()
    lifeline_r, lifeline_w = os.pipe()
    start = time.monotonic()
    try:
        pid = os.fork()
    except OSError:
        for fd in (messages_r, messages_w, lifeline_r, lifeline_w):
            os.close(fd)
        raise
    if pid == 0:  # pragma: no cover - the child; its effects are what the tests check
        os.close(messages_r)
        os.close(lifeline_w)
        _child(body, messages_w, lifeline_r)
    os.close(messages_w)
    os.close(lifeline_r)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also done by the child: whichever runs first
    try:
        return _wait(pid, messages_r, start, timeout, on_message)
    finally:
        os.close(messages_r)
        os.close(lifeline_w)  # the child, if somehow still there, sees the parent gone


def _child(
    body: Callable[[Send], None], messages: int, lifeline: int
) -> NoReturn:  # pragma: no cover
    """The child's whole life: it never returns into the caller's stack."""
    status = BODY_RAISED
    try:
        os.setpgid(0, 0)
        threading.Thread(
            target=_end_when_parent_goes, args=(lifeline,), name=WATCHER_THREAD, daemon=True
        ).start()
        body(lambda message: _send(messages, message))
        status = 0
    except BaseException as exc:  # whatever happens, the child ends here
        with contextlib.suppress(BaseException):
            logger.error("the run's process failed", exc_info=True)  # traceback with --debug
            text = " ".join(str(exc).split())
            error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            _send(messages, {"event": CRASHED, "error": error})
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _send(fd: int, message: dict[str, Any]) -> None:  # pragma: no cover - in the child
    data = (json.dumps(message, ensure_ascii=True, default=str) + "\n").encode("ascii")
    while data:
        data = data[os.write(fd, data) :]


def _end_when_parent_goes(lifeline: int) -> None:  # pragma: no cover - in the child
    """Block until the parent's end of the lifeline closes, then kill this process group."""
    with contextlib.suppress(OSError):
        while os.read(lifeline, 1):
            pass
    os.killpg(0, signal.SIGKILL)


def _wait(
    pid: int,
    messages_fd: int,
    start: float,
    timeout: float | None,
    on_message: Callable[[dict[str, Any]], None] | None,
) -> ChildEnd:
    """Read messages until the child ends or the deadline passes; reap the child."""
    reader = _Reader(messages_fd, on_message)
    deadline = None if timeout is None else start + timeout
    timed_out = False
    status: int | None = None
    try:
        while True:
            status = _reaped(pid)
            if status is not None:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                timed_out = True
                break
            wait = _POLL if deadline is None else max(0.0, min(_POLL, deadline - now))
            reader.read(wait)
    finally:
        if status is None:
            _kill_group(pid)
            status = os.waitpid(pid, 0)[1]
    reader.read(0.0)
    return ChildEnd(
        pid=pid,
        messages=reader.messages,
        returncode=os.waitstatus_to_exitcode(status),
        timed_out=timed_out,
        seconds=time.monotonic() - start,
    )


def _reaped(pid: int) -> int | None:
    """The child's wait status if it has ended (and is now reaped), else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    return status if done else None


def _kill_group(pid: int) -> None:
    """``SIGKILL`` the child's process group (the child alone if it has none yet)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


class _Reader:
    """The parent's end of the message pipe: JSON lines, anything else ignored."""

    def __init__(self, fd: int, on_message: Callable[[dict[str, Any]], None] | None) -> None:
        self.fd = fd
        self.on_message = on_message
        self.messages: list[dict[str, Any]] = []
        self.closed = False
        self._buffer = b""
        os.set_blocking(fd, False)

    def read(self, wait: float) -> None:
        """Take what has arrived, waiting at most ``wait`` seconds for something."""
        if self.closed:
            time.sleep(wait)
            return
        if not select.select([self.fd], [], [], wait)[0]:
            return
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.closed = True
                return
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                self._take(line)

    def _take(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return  # not ours: something in the task wrote to this pipe
        if isinstance(message, dict):
            self.messages.append(message)
            if self.on_message is not None:
                self.on_message(message)
