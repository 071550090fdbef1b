"""The one exception family of the core: each class carries its ``code`` and its exit code.

The error contract (``docs/architecture.md``): every failure is reported as one
JSON object built by :func:`error_object`, and the process exits with that object's
``exit_code``. Nothing here knows of Typer; the CLI catches :class:`WhaleFallSchedError`
once and exits with ``error.exit_code``.

The seed's ``NotFoundError``, ``ConflictError`` and ``SystemError`` are
``JobNotFoundError``, ``StoreConflictError`` and ``StoreSystemError`` here so that
none shadows a Python builtin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any, ClassVar


class ExitCode(IntEnum):
    """What a ``whalefall-sched`` process returns (documented in the README)."""

    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    SYSTEM = 5
    RUN_TIMED_OUT = 6


def error_object(
    code: str,
    message: str,
    exit_code: int,
    problems: Sequence[str] = (),
    suggestions: Sequence[str] = (),
) -> dict[str, Any]:
    """The error object of every failure: ``{"code", "message", "exit_code"}``, plus
    ``problems`` and ``suggestions`` (job ids the operator may have meant) when there are
    some."""
    error: dict[str, Any] = {"code": code, "message": message, "exit_code": int(exit_code)}
    if problems:
        error["problems"] = list(problems)
    if suggestions:
        error["suggestions"] = list(suggestions)
    return error


class WhaleFallSchedError(Exception):
    """Base of every error the core raises on purpose."""

    #: Stable machine-readable code, carried into ``{"error": {"code": ...}}``.
    code: ClassVar[str] = "error"
    #: What the process exits with when this error ends a command.
    exit_code: ClassVar[ExitCode] = ExitCode.SYSTEM
    #: Details listed one per line under the message (a tasks file's problems).
    problems: Sequence[str] = ()
    #: Job ids the operator may have meant (an unknown id, an ambiguous name).
    suggestions: Sequence[str] = ()

    def summary(self) -> str:
        """The message without any list of details."""
        return str(self.args[0]) if self.args else type(self).__name__

    def to_dict(self, mask: Callable[[str], str] | None = None) -> dict[str, Any]:
        """This error's JSON object; ``mask`` (e.g. hiding a URL's password) maps each text."""
        keep = mask or str
        message = self.summary() if self.problems else str(self)
        return error_object(
            self.code,
            keep(message),
            self.exit_code,
            [keep(p) for p in self.problems],
            [keep(s) for s in self.suggestions],
        )


class InvalidInputError(WhaleFallSchedError):
    """An option, argument or URL given to the tool is invalid."""

    code = "usage"
    exit_code = ExitCode.USAGE


class TasksFileError(InvalidInputError):
    """The tasks file is invalid; ``problems`` lists each one, prefixed by its task id."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def summary(self) -> str:
        """The message with the number of problems."""
        count = len(self.problems)
        base = super().summary()
        return f"{base} ({count} problem{'s' if count != 1 else ''})" if count else base

    def __str__(self) -> str:
        if not self.problems:
            return self.summary()
        return self.summary() + ": " + "; ".join(self.problems)


class JobNotFoundError(WhaleFallSchedError):
    """No job with that id (nor, where names are accepted, that name) is in the store
    (the seed's NotFoundError); ``suggestions`` holds the nearest ids."""

    code = "not_found"
    exit_code = ExitCode.NOT_FOUND

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)


class AmbiguousJobNameError(InvalidInputError):
    """A job name given for an id is the name of several jobs (exit 2: give an id);
    ``suggestions`` holds their ids."""

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)


class StoreConflictError(WhaleFallSchedError):
    """The store is not in a state that allows the action (the seed's ConflictError).

    Raised for a store that is not initialised, an action refused as unsafe, a
    compare-and-swap lost to another writer, or a task function that cannot be imported.
    """

    code = "conflict"
    exit_code = ExitCode.CONFLICT


class StoreSystemError(WhaleFallSchedError):
    """The store could not be reached or a statement failed (the seed's SystemError)."""

    code = "system_error"
    exit_code = ExitCode.SYSTEM


class JobRunFailedError(WhaleFallSchedError):
    """A job's function raised during a manual run.

    Not raised: a failed run is a result (``ManualRunResult``), reported with this
    class's code and exit code.
    """

    code = "run_failed"
    exit_code = ExitCode.RUN_FAILED


class JobRunTimedOutError(WhaleFallSchedError):
    """A manual run was still going when its timeout passed (``run --timeout``).

    Not raised: a timed-out run is a result (``ManualRunResult`` with ``timed_out``),
    reported with this class's code and exit code.
    """

    code = "run_timeout"
    exit_code = ExitCode.RUN_TIMED_OUT


class InternalError(WhaleFallSchedError):
    """An exception nobody meant to raise: a bug, shown as one line unless ``--debug``."""

    code = "internal"
    exit_code = ExitCode.SYSTEM
