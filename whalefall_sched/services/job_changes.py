"""``JobChangesService``: the tool's own writes to one job beside the seed's actions,
``reschedule`` (``job_reschedule.py``) and ``delete`` (``job_delete.py``), on the state
they share (``actions_base.py``)."""

from __future__ import annotations

from whalefall_sched.services.job_delete import JobDeletes
from whalefall_sched.services.job_reschedule import JobReschedules


class JobChangesService(JobReschedules, JobDeletes):
    """``reschedule`` and ``delete`` over one store. The tasks file is read only to tell
    a built-in job (``reschedule`` without ``force``)."""
