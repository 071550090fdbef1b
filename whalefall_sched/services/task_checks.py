"""Checking a parsed tasks file, and building from it what stock ``add_job`` would store.

:func:`check_tasks` finds what would stop a reload beyond the file's shape: a function
that is not mapped, not a reference or does not import; a trigger type, trigger
parameters or a fire time that cannot be computed within bounds. On the way it builds
each valid task's trigger and next fire time once; :func:`job_state` turns a task (and
what was built for it) into the job state stock ``add_job`` stores. The
:class:`.tasks_file.TasksFile` methods ``check``, ``build_trigger`` and ``job_state``
call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.services.fire_times import (
    FILE_STEPS,
    FireTimeSearch,
    FireTimeSearchLimitError,
    next_fire_time,
)
from whalefall_sched.services.imports import ImportRefError, import_ref
from whalefall_sched.services.tasks_file import (
    FUNC_REF,
    HOST_CRON_FIELDS,
    TRIGGER_TYPES,
    TasksCheck,
)
from whalefall_sched.services.triggers import CRON_ARG_KEYS

if TYPE_CHECKING:
    from whalefall_sched.services.tasks_file import TasksFile, TaskSpec


def check_tasks(
    tasks: TasksFile,
    *,
    verify_imports: bool = True,
    app_paths: Sequence[str] = (),
    now: datetime | None = None,
) -> TasksCheck:
    """What :meth:`.tasks_file.TasksFile.check` returns: every problem of ``tasks``, and
    each valid task's trigger and next fire time after ``now`` (default: the current time)."""
    found = list(tasks.parse_problems)
    built: dict[str, tuple[Any, datetime | None]] = {}
    # one budget for every trigger of the file: a file of many slow triggers ends too
    search = FireTimeSearch(FILE_STEPS, budget_name="the tasks file's")
    try:
        from apscheduler.util import astimezone

        astimezone(tasks.timezone)
    except Exception as exc:  # noqa: BLE001 - any failure means an unusable zone
        found.append(f"timezone: invalid time zone {tasks.timezone!r} ({exc})")
        return TasksCheck(found, built)
    now = now or datetime.now(UTC)
    for task in tasks.tasks:
        found.extend(
            f"task {task.id}: {p}"
            for p in _task_problems(
                tasks, task, verify_imports, app_paths, search, now=now, built=built
            )
        )
    return TasksCheck(found, built)


def _task_problems(
    tasks: TasksFile,
    task: TaskSpec,
    verify_imports: bool,
    app_paths: Sequence[str],
    search: FireTimeSearch,
    *,
    now: datetime,
    built: dict[str, tuple[Any, datetime | None]],
) -> list[str]:
    problems: list[str] = []
    if task.func_ref is None:
        if task.function is None:
            problems.append(
                "no function: give `function:` or map the id under `functions:` "
                f"(e.g. functions: {{{task.id}: 'package.module:{task.id}'}})"
            )
        else:
            problems.append(
                f"unknown function {task.function!r}: map it under `functions:` "
                "to a 'module:attr' import target (here or in a --config file)"
            )
    elif not FUNC_REF.match(task.func_ref):
        problems.append(f"invalid function reference {task.func_ref!r} (want 'module:attr')")
    elif verify_imports:
        try:
            obj = import_ref(task.func_ref, app_paths)
        except ImportRefError as exc:
            problems.append(_import_problem_text(exc))
        else:
            if not callable(obj):
                problems.append(f"{task.func_ref!r} is not callable")
    if not task.trigger_type:
        pass  # already reported while parsing: missing `trigger_type`
    elif task.trigger_type not in TRIGGER_TYPES:
        problems.append(
            f"unknown trigger_type {task.trigger_type!r} (want one of {', '.join(TRIGGER_TYPES)})"
        )
    elif trigger_problem := _trigger_problem(tasks, task, search, now, built):
        problems.append(trigger_problem)
    return problems


def _trigger_problem(
    tasks: TasksFile,
    task: TaskSpec,
    search: FireTimeSearch,
    now: datetime,
    built: dict[str, tuple[Any, datetime | None]],
) -> str | None:
    """Why the task's trigger cannot be built, or its fire time not found in bounds;
    else the trigger and its fire time go in ``built``."""
    try:
        trigger = build_trigger(tasks, task)
        # computing a fire time catches what the constructor lets through (jitter)
        built[task.id] = (trigger, search.next_fire_time(trigger, now))
    except FireTimeSearchLimitError as exc:
        return f"trigger {task.trigger_type}: {exc}"
    # LookupError: an unknown zone; ArithmeticError: a value too large (1e300 s)
    except (TypeError, ValueError, LookupError, ArithmeticError) as exc:
        return f"bad trigger_params for {task.trigger_type}: {exc}"
    return None


def _import_problem_text(problem: ImportRefError) -> str:
    """An import problem of a task, with how to get past it when the code is right."""
    if problem.kind == "module_not_found":
        return f"{problem}, or --no-verify-imports"
    if problem.kind == "import_failed":
        return (
            f"{problem}; if it imports only in the host app's environment, pass --no-verify-imports"
        )
    return str(problem)


def build_trigger(tasks: TasksFile, task: TaskSpec) -> Any:
    """The APScheduler trigger for ``task`` of ``tasks``, from the fields given only."""
    params = dict(task.trigger_params)
    params.setdefault("timezone", tasks.timezone)
    if task.trigger_type == "cron":
        from apscheduler.triggers.cron import CronTrigger

        unknown = sorted(
            set(params) - {*CRON_ARG_KEYS, "timezone", "start_date", "end_date", "jitter"}
        )
        if unknown:
            raise ValueError(f"unknown cron field(s) {', '.join(unknown)}")
        ignored = sorted(set(task.trigger_params) - set(HOST_CRON_FIELDS))
        if tasks.host.has_registry and ignored:
            raise ValueError(
                f"the 2026-07 host builds cron triggers from {', '.join(HOST_CRON_FIELDS)} "
                f"only: it would ignore {', '.join(ignored)}"
            )
        return CronTrigger(**params)
    if task.trigger_type == "interval":
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(**params)
    if task.trigger_type == "date":
        from apscheduler.triggers.date import DateTrigger

        return DateTrigger(**params)
    raise ValueError(f"unknown trigger_type {task.trigger_type!r}")


def job_state(
    tasks: TasksFile,
    task: TaskSpec,
    now: datetime,
    built: tuple[Any, datetime | None] | None = None,
) -> dict[str, Any]:
    """The state stock ``add_job`` would store for ``task`` of ``tasks`` added at ``now``.

    ``built``: the task's trigger and next fire time after ``now`` as
    :func:`check_tasks` made them (else they are made here).
    """
    assert task.func_ref is not None
    if built is None:
        trigger = build_trigger(tasks, task)
        next_time = next_fire_time(trigger, now)
    else:
        trigger, next_time = built
    options = {**tasks.job_defaults, **task.job_defaults}
    return {
        "version": 1,
        "id": task.id,
        "func": task.func_ref,
        "trigger": trigger,
        "executor": "default",
        "args": tuple(task.args),
        "kwargs": dict(task.kwargs),
        # stock names an unnamed job after its callable's qualified name
        "name": task.name or task.func_ref.split(":", 1)[1],
        "misfire_grace_time": options["misfire_grace_time"],
        "coalesce": options["coalesce"],
        "max_instances": options["max_instances"],
        # a paused task is written as stock pause_job writes a job: no next run time
        "next_run_time": None if task.paused else next_time,
    }
