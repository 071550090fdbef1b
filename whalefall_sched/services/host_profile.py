"""Which WhaleFall host the store belongs to, and what follows from it.

Two generations are known (README, "Host generations"):

- ``2026-01``: the tasks file names, describes and points at each task's function
  itself; every id in it is built-in; a manual run adds ``manual_run``/``created_by``
  only for ``sync_accounts`` and ``calculate_database_size_aggregations``; the host's
  list has no ``task_id``, ``task_name`` or ``editable_fields``.
- ``2026-07``: the tasks file gives only ``id``, ``trigger_type``, ``trigger_params``
  (and ``enabled``); names, descriptions, function targets and editable fields come
  from the registry module ``app/core/constants/scheduler_jobs.py``
  (:mod:`.host_registry`, read without running it); the built-in ids are the
  registry's; a manual run of any built-in job adds the two keys.

:func:`detect_host_profile` picks one: the config's ``host_generation`` if given, else
``2026-07`` when an ``--app-path`` directory holds the registry module, else ``2026-01``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from whalefall_sched.services.host_registry import (
    REGISTRY_RELATIVE_PATH,
    BuiltinTask,
    RegistryError,
    read_registry,
)

HostGeneration = Literal["2026-01", "2026-07"]
GENERATIONS: tuple[HostGeneration, ...] = ("2026-01", "2026-07")
#: The 2026-07 host's tasks file, relative to its checkout.
TASKS_RELATIVE_PATH = Path("app", "config", "scheduler_tasks.yaml")
#: The keys a task of the 2026-07 host's tasks file may have (its schema forbids others).
TASK_KEYS_2026_07 = frozenset({"id", "trigger_type", "trigger_params", "enabled"})
#: The 2026-01 host's built-in jobs whose manual run gets the manual kwargs.
MANUAL_KWARGS_IDS_2026_01 = frozenset({"sync_accounts", "calculate_database_size_aggregations"})


class HostProfileError(ValueError):
    """The host profile cannot be made (one line)."""


@dataclass(frozen=True)
class HostProfile:
    """One host generation and, for ``2026-07``, its registry."""

    generation: HostGeneration = "2026-01"
    #: ``2026-07``: the registry by task id (in the registry's order).
    registry: dict[str, BuiltinTask] = field(default_factory=dict)
    #: ``2026-07``: the registry module read, and the checkout it is in.
    registry_path: Path | None = None
    #: How the generation was chosen: ``detected`` or ``config``.
    source: str = "detected"

    @property
    def has_registry(self) -> bool:
        """True for the 2026-07 host: ids, names and functions come from its registry."""
        return self.generation == "2026-07"

    @property
    def checkout(self) -> Path | None:
        """The host checkout the registry was found in."""
        if self.registry_path is None:
            return None
        return self.registry_path.parents[len(REGISTRY_RELATIVE_PATH.parts) - 1]

    @property
    def tasks_path(self) -> Path | None:
        """The host's own tasks file (2026-07), the default when ``--tasks`` is not given."""
        checkout = self.checkout
        return checkout / TASKS_RELATIVE_PATH if checkout is not None else None

    @property
    def builtin_ids(self) -> frozenset[str] | None:
        """The registry's ids (2026-07); None where the tasks file decides (2026-01)."""
        return frozenset(self.registry) if self.has_registry else None

    def manual_kwargs_ids(self, builtin_ids: frozenset[str]) -> frozenset[str]:
        """The built-in ids whose manual run gets ``manual_run=True, created_by``, unless
        the config's ``manual_kwargs_ids`` says otherwise: every one on 2026-07 (its
        actions service), the two-id table on 2026-01."""
        return builtin_ids if self.has_registry else MANUAL_KWARGS_IDS_2026_01

    def function_targets(self) -> dict[str, str]:
        """``function_name`` -> ``function_target``, as the 2026-07 host maps them
        (``TASK_FUNCTIONS``: a later entry wins for a name given twice)."""
        return {task.function_name: task.function_target for task in self.registry.values()}

    def task(self, task_id: str) -> BuiltinTask | None:
        """The registry's entry for ``task_id`` (2026-07), else None."""
        return self.registry.get(task_id) if self.has_registry else None


def find_registry(app_paths: Sequence[str]) -> Path | None:
    """The first ``--app-path`` directory's registry module, if any holds one."""
    for directory in app_paths:
        candidate = Path(directory) / REGISTRY_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    return None


def detect_host_profile(app_paths: Sequence[str], generation: str | None = None) -> HostProfile:
    """The host profile: ``generation`` (the config's ``host_generation``) when given,
    else what the ``--app-path`` directories hold. Raises :class:`HostProfileError`
    for an unknown generation, a ``2026-07`` with no registry to read, or a registry
    that is not literal (:class:`.host_registry.RegistryError`)."""
    if generation is not None and generation not in GENERATIONS:
        raise HostProfileError(
            f"host_generation: want one of {', '.join(GENERATIONS)}, got {generation!r}"
        )
    source = "config" if generation is not None else "detected"
    if generation == "2026-01":
        return HostProfile("2026-01", source=source)
    registry_path = find_registry(app_paths)
    if registry_path is None:
        if generation == "2026-07":
            where = ", ".join(app_paths) if app_paths else "no --app-path given"
            raise HostProfileError(
                f"host_generation 2026-07 needs the host's registry: pass --app-path at the "
                f"WhaleFall checkout ({REGISTRY_RELATIVE_PATH} not found; {where})"
            )
        return HostProfile("2026-01", source=source)
    try:
        registry = read_registry(registry_path)
    except RegistryError as exc:
        raise HostProfileError(str(exc)) from exc
    return HostProfile("2026-07", registry, registry_path, source=source)
