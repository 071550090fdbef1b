"""The one exception family of the core; the CLI maps each class to an exit code.

The seed's ``NotFoundError``, ``ConflictError`` and ``SystemError`` are
``JobNotFoundError``, ``StoreConflictError`` and ``StoreSystemError`` here so that
none shadows a Python builtin.
"""

from __future__ import annotations


class WhaleFallSchedError(Exception):
    """Base of every error the core raises on purpose."""

    #: Stable machine-readable code, carried into ``{"error": {"code": ...}}``.
    code = "error"

    def summary(self) -> str:
        """The message without any list of details."""
        return str(self.args[0]) if self.args else type(self).__name__


class InvalidInputError(WhaleFallSchedError):
    """An option, argument or URL given to the tool is invalid."""

    code = "usage"


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
    """No job with that id is in the store (the seed's NotFoundError)."""

    code = "not_found"


class StoreConflictError(WhaleFallSchedError):
    """The store is not in a state that allows the action (the seed's ConflictError).

    Raised for a store that is not initialised, an action refused as unsafe, a
    compare-and-swap lost to another writer, or a task function that cannot be imported.
    """

    code = "conflict"


class StoreSystemError(WhaleFallSchedError):
    """The store could not be reached or a statement failed (the seed's SystemError)."""

    code = "system_error"
