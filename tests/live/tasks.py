"""Task functions for the live scheduler's jobs (importable by the scheduler and the CLI).

The runs themselves are recorded by the scheduler process's event listener (job id,
scheduled run time, wall time, pid), so these functions need no arguments and the
tasks files used by ``reload`` can point at them as they are.
"""

from __future__ import annotations

import time


def tick() -> str:
    """Do nothing, quickly."""
    return "tick"


def slow(seconds: float = 1.0) -> str:
    """Sleep for ``seconds``: a job that is still running when the next one is due."""
    time.sleep(seconds)
    return "slow"
