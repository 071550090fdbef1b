"""Exit codes: stable, documented, and the same for every command."""

from __future__ import annotations

from enum import IntEnum

from whalefall_sched.errors import (
    InvalidInputError,
    JobNotFoundError,
    StoreConflictError,
    StoreSystemError,
    WhaleFallSchedError,
)


class ExitCode(IntEnum):
    """What a ``whalefall-sched`` process returns."""

    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    SYSTEM = 5


def exit_code_for(error: WhaleFallSchedError) -> ExitCode:
    """The exit code of a core error (the seed's errors map to 3, 4 and 5)."""
    if isinstance(error, InvalidInputError):
        return ExitCode.USAGE
    if isinstance(error, JobNotFoundError):
        return ExitCode.NOT_FOUND
    if isinstance(error, StoreConflictError):
        return ExitCode.CONFLICT
    if isinstance(error, StoreSystemError):
        return ExitCode.SYSTEM
    return ExitCode.SYSTEM
