"""Service layer: the seed's read and actions services and their result objects.

The services are imported on first use (``from whalefall_sched.services import
SchedulerActionsService`` still works): a read command or shell completion does not
import the actions service and what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whalefall_sched.services.actions_service import SchedulerActionsService
    from whalefall_sched.services.read_service import SchedulerJobsReadService

__all__ = ["SchedulerActionsService", "SchedulerJobsReadService"]

_MODULES = {
    "SchedulerActionsService": "whalefall_sched.services.actions_service",
    "SchedulerJobsReadService": "whalefall_sched.services.read_service",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
