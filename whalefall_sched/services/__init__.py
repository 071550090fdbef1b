"""Service layer: the seed's read and actions services and their result objects."""

from whalefall_sched.services.actions_service import SchedulerActionsService
from whalefall_sched.services.read_service import SchedulerJobsReadService

__all__ = ["SchedulerActionsService", "SchedulerJobsReadService"]
