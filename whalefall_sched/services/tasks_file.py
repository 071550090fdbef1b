"""The default-task file: the host app's YAML, plus a few keys of this tool's own.

Both shapes of the host file are read. The 2026-01 shape gives each task
``id, name, function, trigger_type, trigger_params, enabled, description``; the later
shape gives only ``id, trigger_type, trigger_params``. Keys added here:

- ``functions``: short function name (or task id) -> ``module:attr`` import target
- ``timezone``: the scheduler's time zone (default ``Asia/Shanghai``)
- ``builtin_ids``: ids shown as built-in (default: every id in the file)
- ``manual_kwargs_ids``: built-in ids whose manual run gets ``manual_run``/``created_by``
- ``app_factory``: ``module:callable`` building the host app for ``run``
- ``job_defaults``: ``misfire_grace_time``, ``coalesce``, ``max_instances``
- ``host_generation``: ``2026-01`` or ``2026-07``, overriding what is detected
  (:mod:`.host_profile`); on 2026-07 names, descriptions and functions come from the
  host's registry and the tasks file may be the host's own, unchanged

and on a task (written by ``export``):

- ``paused: true``: registered paused (no next run time, as ``pause`` writes it);
  ``enabled: false`` keeps the host's meaning, not registered at all
- ``args`` (a list), ``kwargs`` (a mapping): the job's arguments (default: none)
- ``job_defaults``: this task's own ``misfire_grace_time``, ``coalesce``, ``max_instances``
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from whalefall_sched.errors import TasksFileError
from whalefall_sched.services.fire_times import (
    FILE_STEPS,
    FireTimeSearch,
    FireTimeSearchLimitError,
    next_fire_time,
)
from whalefall_sched.services.host_profile import (
    TASK_KEYS_2026_07,
    HostProfile,
    HostProfileError,
    detect_host_profile,
)
from whalefall_sched.services.imports import ImportRefError, import_ref
from whalefall_sched.services.triggers import CRON_ARG_KEYS

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: The built-in jobs whose manual run gets manual kwargs (docs/architecture.md).
DEFAULT_MANUAL_KWARGS_IDS = ("sync_accounts", "calculate_database_size_aggregations")
#: The host app's scheduler job defaults.
DEFAULT_JOB_DEFAULTS: dict[str, Any] = {
    "misfire_grace_time": 300,
    "coalesce": True,
    "max_instances": 1,
}
TRIGGER_TYPES = ("cron", "interval", "date")
#: The cron fields the 2026-07 host passes on to ``CronTrigger`` (it drops any other key).
HOST_CRON_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week", "year")
#: Stock APScheduler's id column is ``Unicode(191)``.
MAX_ID_LENGTH = 191
_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def bundled_tasks_path() -> Path:
    """The example tasks file shipped in the package."""
    return Path(str(resources.files("whalefall_sched.examples") / "default_tasks.yaml"))


@dataclass(frozen=True)
class TaskSpec:
    """One entry of ``default_tasks`` as written (validated by :meth:`TasksFile.problems`).

    ``function`` is the entry's ``function:`` key as written (a short name or a
    reference); ``func_ref`` is the ``module:attr`` reference it resolves to.
    """

    id: str
    trigger_type: str
    trigger_params: dict[str, Any]
    function: str | None = None
    func_ref: str | None = None
    name: str | None = None
    enabled: bool = True
    description: str | None = None
    #: Registered paused (the tool's own ``paused:`` key).
    paused: bool = False
    #: The job's arguments (the tool's own ``args:`` and ``kwargs:`` keys).
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: This task's own job defaults (the tool's own per-task ``job_defaults:``).
    job_defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TasksFile:
    """A parsed tasks file; :meth:`problems` lists what would stop a reload."""

    path: Path
    tasks: list[TaskSpec]
    timezone: str = DEFAULT_TIMEZONE
    builtin_ids: frozenset[str] = frozenset()
    manual_kwargs_ids: frozenset[str] = frozenset(DEFAULT_MANUAL_KWARGS_IDS)
    app_factory: str | None = None
    job_defaults: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_JOB_DEFAULTS))
    #: Problems found while parsing (shape errors); each prefixed by its task id.
    parse_problems: list[str] = field(default_factory=list)
    #: The ``functions:`` map as written (short name -> ``module:attr``), string values only.
    functions: dict[str, str] = field(default_factory=dict)
    #: The host generation this file is read for (2026-07: with its registry).
    host: HostProfile = field(default_factory=HostProfile)

    def task(self, task_id: str) -> TaskSpec | None:
        """The task with this id, if the file has one."""
        return next((t for t in self.tasks if t.id == task_id), None)

    def func_refs(self) -> frozenset[str]:
        """Every ``module:attr`` this file names: the ``functions:`` values and each task's.

        ``run`` runs only these unless told otherwise (``--allow-any-function``).
        """
        refs = {t.func_ref for t in self.tasks if t.func_ref is not None}
        return frozenset(refs | set(self.functions.values()))

    def problems(self, *, verify_imports: bool = True, app_paths: Sequence[str] = ()) -> list[str]:
        """Every reason this file cannot be reloaded, each prefixed by its task id.

        With ``verify_imports`` each task function is imported (``app_paths`` first on
        ``sys.path``); whatever its module raises is a problem of that task.
        """
        return self.check(verify_imports=verify_imports, app_paths=app_paths).problems

    def check(
        self,
        *,
        verify_imports: bool = True,
        app_paths: Sequence[str] = (),
        now: datetime | None = None,
    ) -> TasksCheck:
        """:meth:`problems`, and each valid task's trigger and next fire time after
        ``now`` (default: the current time), built once for :meth:`job_state`."""
        found = list(self.parse_problems)
        built: dict[str, tuple[Any, datetime | None]] = {}
        # one budget for every trigger of the file: a file of many slow triggers ends too
        search = FireTimeSearch(FILE_STEPS, budget_name="the tasks file's")
        try:
            from apscheduler.util import astimezone

            astimezone(self.timezone)
        except Exception as exc:  # noqa: BLE001 - any failure means an unusable zone
            found.append(f"timezone: invalid time zone {self.timezone!r} ({exc})")
            return TasksCheck(found, built)
        now = now or datetime.now(UTC)
        for task in self.tasks:
            found.extend(
                f"task {task.id}: {p}"
                for p in self._task_problems(
                    task, verify_imports, app_paths, search, now=now, built=built
                )
            )
        return TasksCheck(found, built)

    def _task_problems(
        self,
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
        elif not _REF.match(task.func_ref):
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
                f"unknown trigger_type {task.trigger_type!r} "
                f"(want one of {', '.join(TRIGGER_TYPES)})"
            )
        elif trigger_problem := self._trigger_problem(task, search, now, built):
            problems.append(trigger_problem)
        return problems

    def _trigger_problem(
        self,
        task: TaskSpec,
        search: FireTimeSearch,
        now: datetime,
        built: dict[str, tuple[Any, datetime | None]],
    ) -> str | None:
        """Why the task's trigger cannot be built, or its fire time not found in bounds;
        else the trigger and its fire time go in ``built``."""
        try:
            trigger = self.build_trigger(task)
            # computing a fire time catches what the constructor lets through (jitter)
            built[task.id] = (trigger, search.next_fire_time(trigger, now))
        except FireTimeSearchLimitError as exc:
            return f"trigger {task.trigger_type}: {exc}"
        # LookupError: an unknown zone; ArithmeticError: a value too large (1e300 s)
        except (TypeError, ValueError, LookupError, ArithmeticError) as exc:
            return f"bad trigger_params for {task.trigger_type}: {exc}"
        return None

    def build_trigger(self, task: TaskSpec) -> Any:
        """The APScheduler trigger for ``task``, from the fields given only."""
        params = dict(task.trigger_params)
        params.setdefault("timezone", self.timezone)
        if task.trigger_type == "cron":
            from apscheduler.triggers.cron import CronTrigger

            unknown = sorted(
                set(params) - {*CRON_ARG_KEYS, "timezone", "start_date", "end_date", "jitter"}
            )
            if unknown:
                raise ValueError(f"unknown cron field(s) {', '.join(unknown)}")
            ignored = sorted(set(task.trigger_params) - set(HOST_CRON_FIELDS))
            if self.host.has_registry and ignored:
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
        self, task: TaskSpec, now: datetime, built: tuple[Any, datetime | None] | None = None
    ) -> dict[str, Any]:
        """The state stock ``add_job`` would store for ``task`` added at ``now``.

        ``built``: the task's trigger and next fire time after ``now`` as
        :meth:`check` made them (else they are made here).
        """
        assert task.func_ref is not None
        if built is None:
            trigger = self.build_trigger(task)
            next_time = next_fire_time(trigger, now)
        else:
            trigger, next_time = built
        options = {**self.job_defaults, **task.job_defaults}
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


@dataclass(frozen=True)
class TasksCheck:
    """What :meth:`TasksFile.check` found: the problems, and each valid task's trigger
    and next fire time by id."""

    problems: list[str]
    built: dict[str, tuple[Any, datetime | None]]


def _import_problem_text(problem: ImportRefError) -> str:
    """An import problem of a task, with how to get past it when the code is right."""
    if problem.kind == "module_not_found":
        return f"{problem}, or --no-verify-imports"
    if problem.kind == "import_failed":
        return (
            f"{problem}; if it imports only in the host app's environment, pass --no-verify-imports"
        )
    return str(problem)


#: The keys this tool adds to the host's tasks file; a ``--config`` file holds only these.
OWN_KEYS = (
    "functions",
    "timezone",
    "builtin_ids",
    "manual_kwargs_ids",
    "app_factory",
    "job_defaults",
    "host_generation",
)


def _invalid(what: str, path: Path, reason: str) -> TasksFileError:
    """``<what> <path> is invalid: <reason>``, on one line."""
    return TasksFileError(f"{what} {path} is invalid: {reason}".replace("\n", " "))


def _yaml_problem(path: Path, text: str, exc: Exception) -> str:
    """A YAML syntax error as ``not valid YAML at file:line:column: problem``."""
    import yaml

    def where(line: int, column: int) -> str:
        return f"{path}:{line + 1}:{column + 1}"

    from whalefall_sched.services.safe_yaml import YamlLimitError

    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark, start = exc.problem_mark, exc.context_mark
        kind = "YAML limit reached" if isinstance(exc, YamlLimitError) else "not valid YAML"
        found = f"{kind} at {where(mark.line, mark.column)}: {exc.problem}"
        if exc.context and start is not None and start.index != mark.index:
            found += f" ({exc.context} started at {start.line + 1}:{start.column + 1})"
        return found
    if isinstance(exc, yaml.reader.ReaderError):
        lines = text[: exc.position].split("\n")
        return f"not valid YAML at {where(len(lines) - 1, len(lines[-1]))}: {exc.reason}"
    return f"not valid YAML: {exc}"


def _read_yaml(path: Path, what: str) -> Any:
    """The YAML document in ``path``, read with bounded work (:mod:`.safe_yaml`)."""
    import yaml

    from whalefall_sched.services import safe_yaml

    try:
        with path.open("rb") as stream:
            data = stream.read(safe_yaml.MAX_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _invalid(what, path, f"cannot read it ({reason})") from exc
    if len(data) > safe_yaml.MAX_BYTES:
        raise _invalid(
            what, path, f"over the size limit: larger than {safe_yaml.MAX_BYTES:,} bytes"
        )
    try:
        return safe_yaml.load(text)
    except yaml.YAMLError as exc:
        raise _invalid(what, path, _yaml_problem(path, text, exc)) from exc


def load_tasks_file(
    path: Path | None, config: Path | None = None, *, app_paths: Sequence[str] = ()
) -> TasksFile:
    """Parse a tasks file (when ``path`` is None: the 2026-07 host's own file in the
    checkout found under ``app_paths``, else the bundled example).

    ``config`` is a YAML file of this tool's own keys (:data:`OWN_KEYS`) that override
    the tasks file's, so the host's file can be used unchanged. The host generation
    (:mod:`.host_profile`) is the config's ``host_generation``, else detected from
    ``app_paths``. Raises :class:`TasksFileError` when a file cannot be read or is not
    a tasks file at all, or the host's registry is not literal; per-task problems are
    kept for :meth:`TasksFile.problems`.
    """
    overlay: dict[str, Any] = {}
    if config is not None:
        read = _read_yaml(config, "config file")
        if not isinstance(read, dict):
            raise _invalid("config file", config, f"not a mapping of {', '.join(OWN_KEYS)}")
        unknown = sorted(set(read) - set(OWN_KEYS), key=str)
        if unknown:
            raise _invalid(
                "config file",
                config,
                f"unknown key(s) {', '.join(map(str, unknown))} (want {', '.join(OWN_KEYS)})",
            )
        overlay = read
    host = _host_profile(app_paths, overlay.get("host_generation"), config)
    path = path or host.tasks_path or bundled_tasks_path()
    document = _read_yaml(path, "tasks file")
    if not isinstance(document, dict) or not isinstance(document.get("default_tasks"), list):
        raise _invalid("tasks file", path, "no `default_tasks:` list")
    if "host_generation" not in overlay and document.get("host_generation") is not None:
        host = _host_profile(app_paths, document["host_generation"], path)
    return _parse(path, {**document, **overlay}, host)


def _host_profile(app_paths: Sequence[str], generation: Any, where: Path | None) -> HostProfile:
    """The host profile (:func:`.host_profile.detect_host_profile`); its problems are
    the file's (``where``: the file that set ``host_generation``)."""
    try:
        return detect_host_profile(app_paths, None if generation is None else str(generation))
    except HostProfileError as exc:
        if generation is not None and where is not None:
            raise _invalid("config file", where, str(exc)) from exc
        raise TasksFileError(str(exc)) from exc


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


def _parse(path: Path, document: dict[str, Any], host: HostProfile | None = None) -> TasksFile:
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
    if app_factory is not None and not (isinstance(app_factory, str) and _REF.match(app_factory)):
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
