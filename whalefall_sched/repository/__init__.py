"""Repository layer: the only code that runs SQL or (un)pickles ``job_state``.

``JobStoreRepository`` (store.py) is the facade the services use; the modules beside it
each do one job: connection.py, store_url.py, store_errors.py, reads.py, sqlite_reads.py,
sqlite_files.py, rows.py, changes.py, due_row_guard.py, writes.py, creation.py,
backups.py, audit.py, audit_trail.py, history.py, history_tables.py, own_runs.py and
codec/.
"""

from whalefall_sched.repository.rows import StoredJob, encode_row, unsafe_reason
from whalefall_sched.repository.sqlite_files import SchedulerLock
from whalefall_sched.repository.store import (
    CAS_ATTEMPTS,
    JobStoreRepository,
    ModifyOutcome,
    ReplaceOutcome,
)

__all__ = [
    "CAS_ATTEMPTS",
    "JobStoreRepository",
    "ModifyOutcome",
    "ReplaceOutcome",
    "SchedulerLock",
    "StoredJob",
    "encode_row",
    "unsafe_reason",
]
