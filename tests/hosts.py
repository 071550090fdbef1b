"""A WhaleFall checkout shaped as the 2026-07 host's, written into a test's directory.

What the tool reads of it: the registry module ``app/core/constants/scheduler_jobs.py``
(a literal ``BUILTIN_SCHEDULER_TASKS`` of the seven built-in tasks, defined with a
frozen dataclass as the host does), the host's own tasks file
``app/config/scheduler_tasks.yaml`` (``id``/``trigger_type``/``trigger_params`` only),
and stub task modules ``app/tasks/*.py`` so that imports verify and a manual run
records its call. The registry module writes a marker file if it is ever executed:
the tool must only parse it.

:func:`host_job_states` builds the rows the 2026-07 host's ``app/scheduler.py`` would
write, with a stock scheduler, following its ``_build_default_task_config`` and
``_schedule_job``: the job named after the registry's ``task_name``, the function
given as the callable ``function_target`` names, a cron trigger built from the fields
present only, zone ``Asia/Shanghai``, the host's job defaults.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The seven built-in tasks of the 2026-07 host: id -> (task_name, module, description).
BUILTINS: dict[str, tuple[str, str, str]] = {
    "sync_accounts": ("账户同步", "accounts_sync_tasks", "每日同步所有数据库实例的账户信息"),
    "calculate_account": (
        "统计账户分类",
        "account_classification_daily_tasks",
        "每日计算账户分类命中数(规则命中 + 分类去重)",
    ),
    "sync_databases": (
        "数据库同步",
        "capacity_collection_tasks",
        "每日同步所有数据库实例的容量信息",
    ),
    "calculate_database": (
        "统计数据库聚合",
        "capacity_aggregation_tasks",
        "每日计算数据库大小的日、周、月、季度统计聚合",
    ),
    "sync_veeam_backups": (
        "同步 Veeam 备份",
        "veeam_backup_sync_tasks",
        "每日同步 Veeam 机器级备份快照",
    ),
    "sync_cluster_status": (
        "群集同步状态检测",
        "cluster_status_sync_tasks",
        "每日检测 MySQL 主从状态与 SQL Server AG 数据库同步异常",
    ),
    "email_alert": (
        "邮件告警汇总",
        "email_alert_tasks",
        "每日汇总发送数据库容量、同步异常与高权限账户告警",
    ),
}
BUILTIN_IDS = list(BUILTINS)
#: The hour each task runs at in the host's tasks file.
HOURS = dict(zip(BUILTIN_IDS, (1, 2, 3, 4, 5, 6, 9), strict=True))
HOST_ZONE = "Asia/Shanghai"
HOST_JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
#: Where a stub task records its calls (one JSON line each): an environment variable.
RECORD_VARIABLE = "HOST_STUB_RECORD"
#: The file the registry module writes if it is executed (next to it).
EXECUTED_MARKER = "REGISTRY_EXECUTED"


def target(task_id: str) -> str:
    """The registry's ``function_target`` of a built-in task."""
    return f"app.tasks.{BUILTINS[task_id][1]}:{task_id}"


def _entry(task_id: str) -> str:
    name, _, description = BUILTINS[task_id]
    return (
        f"    {task_id!r}: BuiltinSchedulerTask(\n"
        f"        task_name={name!r},\n"
        f"        function_name={task_id!r},\n"
        f"        function_target={target(task_id)!r},\n"
        f"        description={description!r},\n"
        "    ),\n"
    )


def registry_source(entries: str | None = None, *, prelude: str = "") -> str:
    """The registry module's text: the host's structure, with ``entries`` (the dict's
    body) instead of the seven built-ins when given. It writes :data:`EXECUTED_MARKER`
    beside itself if run."""
    body = entries if entries is not None else "".join(_entry(i) for i in BUILTIN_IDS)
    return (
        '"""Scheduler task constants (a test stand-in for the host\'s registry)."""\n\n'
        "from __future__ import annotations\n\n"
        "import pathlib\n"
        "from dataclasses import dataclass\n\n"
        f"pathlib.Path(__file__).with_name({EXECUTED_MARKER!r}).write_text('ran')\n"
        f"{prelude}\n\n"
        "@dataclass(frozen=True, slots=True)\n"
        "class BuiltinSchedulerTask:\n"
        '    """One built-in task."""\n\n'
        "    task_name: str\n"
        "    function_name: str\n"
        "    function_target: str\n"
        "    description: str\n"
        '    editable_fields: tuple[str, ...] = ("trigger",)\n\n\n'
        "BUILTIN_SCHEDULER_TASKS: dict[str, BuiltinSchedulerTask] = {\n"
        f"{body}"
        "}\n\n"
        "BUILTIN_TASK_IDS: set[str] = set(BUILTIN_SCHEDULER_TASKS)\n"
    )


def tasks_yaml(ids: list[str] | None = None) -> str:
    """The host's tasks file: ``id``, ``trigger_type``, ``trigger_params`` only."""
    lines = ["default_tasks:"]
    for task_id in ids or BUILTIN_IDS:
        lines += [
            f"  - id: {task_id}",
            "    trigger_type: cron",
            "    trigger_params:",
            "      second: 0",
            "      minute: 0",
            f"      hour: {HOURS.get(task_id, 7)}",
            "",
        ]
    return "\n".join(lines)


_STUB = """
import json
import os


def {name}(*args, manual_run=False, created_by=None, **kwargs):
    record = os.environ.get({variable!r})
    if record:
        with open(record, "a", encoding="utf-8") as stream:
            call = {{"task": {name!r}, "args": list(args), "manual_run": manual_run,
                     "created_by": created_by, "kwargs": kwargs}}
            stream.write(json.dumps(call) + "\\n")
    return {name!r}
"""


@dataclass(frozen=True)
class Checkout:
    """A 2026-07-shaped checkout: its root (the ``--app-path``) and its files."""

    root: Path

    @property
    def registry(self) -> Path:
        return self.root / "app" / "core" / "constants" / "scheduler_jobs.py"

    @property
    def tasks_file(self) -> Path:
        return self.root / "app" / "config" / "scheduler_tasks.yaml"

    @property
    def marker(self) -> Path:
        """Exists only if the registry module was executed."""
        return self.registry.with_name(EXECUTED_MARKER)


def write_checkout_2026_07(
    root: Path, *, registry: str | None = None, tasks: str | None = None
) -> Checkout:
    """Write the checkout under ``root``; ``registry``/``tasks``: other module or file text."""
    checkout = Checkout(root)
    for package in ("app", "app/core", "app/core/constants", "app/tasks", "app/config"):
        (root / package).mkdir(parents=True, exist_ok=True)
        if package != "app/config":
            (root / package / "__init__.py").write_text("", encoding="utf-8")
    checkout.registry.write_text(registry or registry_source(), encoding="utf-8")
    checkout.tasks_file.write_text(tasks or tasks_yaml(), encoding="utf-8")
    for task_id, (_, module, _) in BUILTINS.items():
        source = textwrap.dedent(_STUB).format(name=task_id, variable=RECORD_VARIABLE)
        (root / "app" / "tasks" / f"{module}.py").write_text(source, encoding="utf-8")
    return checkout


def forget_app_modules() -> None:
    """Drop the checkout's ``app`` package from ``sys.modules`` (each test has its own)."""
    for name in [n for n in sys.modules if n == "app" or n.startswith("app.")]:
        del sys.modules[name]


def read_records(path: Path) -> list[dict[str, Any]]:
    """The calls the stub tasks recorded."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def host_job_states(checkout: Checkout, ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The job states the 2026-07 host's ``_load_tasks_from_config`` writes, by id: a
    stock scheduler's ``add_job`` with the host's arguments (``_schedule_job``)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    sys.path.insert(0, str(checkout.root))
    scheduler = BackgroundScheduler(timezone=HOST_ZONE, job_defaults=dict(HOST_JOB_DEFAULTS))
    scheduler.start(paused=True)
    try:
        states = {}
        for task_id in ids or BUILTIN_IDS:
            module_path, attr = target(task_id).split(":")
            func = getattr(importlib.import_module(module_path), attr)
            fields = {"second": 0, "minute": 0, "hour": HOURS[task_id]}
            trigger = CronTrigger(**fields, timezone=HOST_ZONE)
            job = scheduler.add_job(func, trigger, id=task_id, name=BUILTINS[task_id][0])
            states[task_id] = job.__getstate__()
        return states
    finally:
        scheduler.shutdown(wait=False)
        sys.path.remove(str(checkout.root))


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """A job state without its next run time (computed at different instants), its
    trigger as the repr of the trigger's state (triggers do not compare)."""
    out = {k: v for k, v in state.items() if k not in ("next_run_time", "trigger")}
    out["trigger"] = repr(state["trigger"].__getstate__())
    return out


def record_environment(path: Path) -> dict[str, str]:
    """The environment a stub task records its calls under."""
    return {**os.environ, RECORD_VARIABLE: str(path)}
