"""Repository layer: the only code that runs SQL or (un)pickles ``job_state``."""

from whalefall_sched.repository.store import (
    JobStoreRepository,
    ModifyOutcome,
    ReplaceOutcome,
    SchedulerLock,
    StoredJob,
)

__all__ = [
    "JobStoreRepository",
    "ModifyOutcome",
    "ReplaceOutcome",
    "SchedulerLock",
    "StoredJob",
]
