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

This module holds the format's constants, the types (:class:`TaskSpec`,
:class:`TasksFile`, :class:`TasksCheck`) and loading (:func:`load_tasks_file`: the
config overlay, the host generation, YAML read with bounded work). Parsing the document
is :mod:`.task_parsing`; checking the tasks and building their triggers and job states
is :mod:`.task_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from whalefall_sched.errors import TasksFileError
from whalefall_sched.services.host_profile import (
    HostProfile,
    HostProfileError,
    detect_host_profile,
)

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
#: A ``module:attr`` reference (a task function, ``app_factory``).
FUNC_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


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
        ``now`` (default: the current time), built once for :meth:`job_state`
        (:func:`.task_checks.check_tasks`)."""
        from whalefall_sched.services.task_checks import check_tasks

        return check_tasks(self, verify_imports=verify_imports, app_paths=app_paths, now=now)

    def build_trigger(self, task: TaskSpec) -> Any:
        """The APScheduler trigger for ``task``, from the fields given only."""
        from whalefall_sched.services.task_checks import build_trigger

        return build_trigger(self, task)

    def job_state(
        self, task: TaskSpec, now: datetime, built: tuple[Any, datetime | None] | None = None
    ) -> dict[str, Any]:
        """The state stock ``add_job`` would store for ``task`` added at ``now``.

        ``built``: the task's trigger and next fire time after ``now`` as
        :meth:`check` made them (else they are made here).
        """
        from whalefall_sched.services.task_checks import job_state

        return job_state(self, task, now, built)


@dataclass(frozen=True)
class TasksCheck:
    """What :meth:`TasksFile.check` found: the problems, and each valid task's trigger
    and next fire time by id."""

    problems: list[str]
    built: dict[str, tuple[Any, datetime | None]]


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
    from whalefall_sched.services.task_parsing import parse_document

    return parse_document(path, {**document, **overlay}, host)


def _host_profile(app_paths: Sequence[str], generation: Any, where: Path | None) -> HostProfile:
    """The host profile (:func:`.host_profile.detect_host_profile`); its problems are
    the file's (``where``: the file that set ``host_generation``)."""
    try:
        return detect_host_profile(app_paths, None if generation is None else str(generation))
    except HostProfileError as exc:
        if generation is not None and where is not None:
            raise _invalid("config file", where, str(exc)) from exc
        raise TasksFileError(str(exc)) from exc
