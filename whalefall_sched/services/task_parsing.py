"""Parsing a tasks file's document: each task in either host shape, the tool's own keys.

:func:`parse_document` turns the YAML mapping into a :class:`.tasks_file.TasksFile`;
every shape problem (a missing ``id``, a bad ``trigger_params``, an id MariaDB would
confuse with another, a bad ``job_defaults``...) is kept in ``parse_problems``,
prefixed by its task id. The 2026-01 shape is read by :func:`_parse_task`; the 2026-07
shape, joined with the host's registry, by :func:`_parse_registry_task`.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from whalefall_sched.services.host_profile import TASK_KEYS_2026_07, HostProfile
from whalefall_sched.services.tasks_file import (
    DEFAULT_JOB_DEFAULTS,
    DEFAULT_TIMEZONE,
    FUNC_REF,
    MAX_ID_LENGTH,
    TasksFile,
    TaskSpec,
)


def _str_list(value: Any, key: str, problems: list[str]) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{key}: want a list of job ids")
        return None
    return frozenset(value)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _job_defaults_problems(values: dict[str, Any]) -> list[str]:
    """What stock ``add_job`` would refuse (or a scheduler ignore) in ``job_defaults``."""
    found = [
        f"job_defaults: unknown key {key!r} (want {', '.join(DEFAULT_JOB_DEFAULTS)})"
        for key in sorted(set(values) - set(DEFAULT_JOB_DEFAULTS), key=str)
    ]
    grace = values.get("misfire_grace_time", DEFAULT_JOB_DEFAULTS["misfire_grace_time"])
    if grace is not None and not _positive_int(grace):
        found.append(f"job_defaults: misfire_grace_time must be a positive integer, got {grace!r}")
    if not isinstance(values.get("coalesce", True), bool):
        found.append(f"job_defaults: coalesce must be true or false, got {values['coalesce']!r}")
    if not _positive_int(values.get("max_instances", 1)):
        found.append(
            "job_defaults: max_instances must be a positive integer, "
            f"got {values['max_instances']!r}"
        )
    return found


def parse_document(
    path: Path, document: dict[str, Any], host: HostProfile | None = None
) -> TasksFile:
    """The tasks file ``document`` (read from ``path``) as a :class:`.tasks_file.TasksFile`;
    ``host``: the generation it is read for (2026-07: each task joined with the registry)."""
    problems: list[str] = []
    functions = document.get("functions") or {}
    if not isinstance(functions, dict):
        problems.append("functions: want a mapping of name -> 'module:attr'")
        functions = {}
    tasks: list[TaskSpec] = []
    seen: set[str] = set()
    alike: dict[str, str] = {}  # _id_key -> the first id with that key
    for index, raw in enumerate(document["default_tasks"], start=1):
        if not isinstance(raw, dict):
            problems.append(f"task #{index}: want a mapping, got {type(raw).__name__}")
            continue
        task_id = raw.get("id")
        if not isinstance(task_id, str) or not task_id:
            problems.append(f"task #{index}: missing `id`")
            continue
        if task_id in seen:
            problems.append(f"task {task_id}: duplicate id")
            continue
        seen.add(task_id)
        id_problem = _id_problem(task_id, alike.setdefault(_id_key(task_id), task_id))
        if id_problem:
            label = task_id if len(task_id) <= MAX_ID_LENGTH else f"#{index}"
            problems.append(f"task {label}: {id_problem}")
            continue
        if host is not None and host.has_registry:
            tasks.append(_parse_registry_task(task_id, raw, functions, host, problems))
        else:
            tasks.append(_parse_task(task_id, raw, functions, problems))
    job_defaults = dict(DEFAULT_JOB_DEFAULTS)
    raw_defaults = document.get("job_defaults")
    if isinstance(raw_defaults, dict):
        job_defaults.update(raw_defaults)
        problems.extend(_job_defaults_problems(raw_defaults))
    elif raw_defaults is not None:
        problems.append("job_defaults: want a mapping of " + ", ".join(DEFAULT_JOB_DEFAULTS))
    timezone = document.get("timezone") or DEFAULT_TIMEZONE
    app_factory = document.get("app_factory")
    if app_factory is not None and not (
        isinstance(app_factory, str) and FUNC_REF.match(app_factory)
    ):
        problems.append(f"app_factory: want 'module:callable', got {app_factory!r}")
        app_factory = None
    builtin = _str_list(document.get("builtin_ids"), "builtin_ids", problems)
    manual = _str_list(document.get("manual_kwargs_ids"), "manual_kwargs_ids", problems)
    host = host or HostProfile()
    builtin = builtin if builtin is not None else _default_builtin_ids(host, tasks)
    return TasksFile(
        path=path,
        tasks=tasks,
        timezone=str(timezone),
        builtin_ids=builtin,
        manual_kwargs_ids=manual if manual is not None else host.manual_kwargs_ids(builtin),
        app_factory=app_factory,
        job_defaults=job_defaults,
        parse_problems=problems,
        functions={str(k): v for k, v in functions.items() if isinstance(v, str)},
        host=host,
    )


def _default_builtin_ids(host: HostProfile, tasks: list[TaskSpec]) -> frozenset[str]:
    """The registry's ids (2026-07), else every id in the tasks file (2026-01)."""
    ids = host.builtin_ids
    return ids if ids is not None else frozenset(t.id for t in tasks)


def _id_key(task_id: str) -> str:
    """What a case- and accent-insensitive collation compares: ``Job`` and ``jöb `` match."""
    decomposed = unicodedata.normalize("NFKD", task_id)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().rstrip(" ")


def _id_problem(task_id: str, alike: str) -> str | None:
    """Why ``task_id`` cannot be a job id (``alike``: an earlier id with the same key)."""
    if len(task_id) > MAX_ID_LENGTH:
        return f"id longer than {MAX_ID_LENGTH} characters (stock APScheduler's id column)"
    if not task_id.isprintable():
        bad = next(c for c in task_id if not c.isprintable())
        return f"id holds a control or invisible character (U+{ord(bad):04X})"
    if alike != task_id:
        return (
            f"id differs from task {alike!r} only in case, accents or trailing spaces: "
            "MariaDB/MySQL compare ids that way, so such ids are refused on every backend"
        )
    return None


def _parse_task(
    task_id: str, raw: dict[str, Any], functions: dict[str, Any], problems: list[str]
) -> TaskSpec:
    trigger_type = raw.get("trigger_type")
    if not isinstance(trigger_type, str) or not trigger_type:
        problems.append(f"task {task_id}: missing `trigger_type`")
        trigger_type = ""
    params = raw.get("trigger_params", {})
    if not isinstance(params, dict):
        problems.append(f"task {task_id}: `trigger_params` must be a mapping")
        params = {}
    function = raw.get("function")
    if function is not None and not isinstance(function, str):
        problems.append(f"task {task_id}: `function` must be a string")
        function = None
    key = function if function is not None else task_id
    func_ref = functions.get(key)
    if func_ref is None and function is not None and ":" in function:
        func_ref = function
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"task {task_id}: `enabled` must be true or false")
        enabled = False
    name = raw.get("name")
    description = raw.get("description")
    own = _own_task_keys(task_id, raw, problems)
    return TaskSpec(
        id=task_id,
        trigger_type=trigger_type,
        trigger_params=params,
        function=function,
        func_ref=str(func_ref) if func_ref is not None else None,
        name=str(name) if name is not None else None,
        enabled=enabled,
        description=str(description) if description is not None else None,
        **own,
    )


def _parse_registry_task(
    task_id: str,
    raw: dict[str, Any],
    functions: dict[str, Any],
    host: HostProfile,
    problems: list[str],
) -> TaskSpec:
    """A task of the 2026-07 host's file: its schedule from the file, the rest from the
    registry, as the host's ``_build_default_task_config`` joins them. A ``functions:``
    entry (keyed by the registry's function name or the id) wins over the registry."""
    extra = sorted(set(raw) - TASK_KEYS_2026_07, key=str)
    if extra:
        problems.append(
            f"task {task_id}: key(s) {', '.join(map(str, extra))} not allowed by the 2026-07 "
            "host's tasks schema (names, functions and descriptions come from its registry "
            f"{host.registry_path}); or set host_generation: 2026-01"
        )
    schedule = {k: v for k, v in raw.items() if k in TASK_KEYS_2026_07}
    spec = _parse_task(task_id, schedule, {}, problems)
    meta = host.task(task_id)
    if meta is None:
        problems.append(
            f"task {task_id}: not in the host's registry {host.registry_path} "
            "(the 2026-07 host refuses the whole file for it)"
        )
        return TaskSpec(
            id=task_id,
            trigger_type=spec.trigger_type,
            trigger_params=spec.trigger_params,
            function=None,
            func_ref=functions.get(task_id) if isinstance(functions.get(task_id), str) else None,
            enabled=spec.enabled,
        )
    func_ref = functions.get(meta.function_name, functions.get(task_id))
    if not isinstance(func_ref, str):
        func_ref = host.function_targets().get(meta.function_name)
    return TaskSpec(
        id=task_id,
        trigger_type=spec.trigger_type,
        trigger_params=spec.trigger_params,
        function=meta.function_name,
        func_ref=func_ref,
        name=meta.task_name,
        enabled=spec.enabled,
        description=meta.description,
    )


def _own_task_keys(task_id: str, raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """A task's keys of this tool's own (``paused``, ``args``, ``kwargs``,
    ``job_defaults``), validated; each problem is added to ``problems``."""
    own: dict[str, Any] = {}
    paused = raw.get("paused", False)
    if isinstance(paused, bool):
        own["paused"] = paused
    else:
        problems.append(f"task {task_id}: `paused` must be true or false")
    args = raw.get("args", [])
    if isinstance(args, list):
        own["args"] = tuple(args)
    else:
        problems.append(f"task {task_id}: `args` must be a list")
    kwargs = raw.get("kwargs", {})
    if isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs):
        own["kwargs"] = dict(kwargs)
    else:
        problems.append(f"task {task_id}: `kwargs` must be a mapping with text keys")
    options = raw.get("job_defaults", {})
    if isinstance(options, dict):
        found = _job_defaults_problems(options)
        problems.extend(f"task {task_id}: {p}" for p in found)
        if not found:
            own["job_defaults"] = dict(options)
    else:
        problems.append(f"task {task_id}: `job_defaults` must be a mapping")
    return own
