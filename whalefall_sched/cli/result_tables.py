"""The Rich tables of ``get``, ``status``, ``run``, ``init`` and the write commands, one
function per result kind, and the Rich helpers they share with :mod:`.change_view`.

Rich is imported only inside these functions, when such a table is printed; it colours
by the same variables as the tool's one rule (:func:`.terminal.use_color`). Every field
is cut and made printable (:mod:`.terminal`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.cli.terminal import FIELD_CHARS, field
from whalefall_sched.cli.times import duration, short_time
from whalefall_sched.services.action_dto import JobActionsResult, ManualRunResult
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, SchedulerJobDetail
from whalefall_sched.services.init_store import StoreInitResult
from whalefall_sched.services.store_dto import SchedulerJobsReloadResult, StoreStatus

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

_STATE_LABEL = {STATE_RUNNING: "running", STATE_PAUSED: "paused"}
_STATE_STYLE = {STATE_RUNNING: "green", STATE_PAUSED: "yellow"}


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # emoji=False: a name holding ":smile:" is shown as written
    return Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)


def _table(*columns: str, title: str | None = None, wrap: Sequence[str] = ()) -> Table:
    """A borderless table; only the ``wrap`` columns may fold, the others never wrap."""
    from rich.table import Table

    table = Table(
        title=title,
        title_justify="left",
        box=None,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        header_style="bold",
        # a title wider than its columns would otherwise fold one letter per line
        min_width=len(title) if title else None,
    )
    for column in columns:
        if column in wrap:
            table.add_column(column, overflow="fold", min_width=10)
        else:
            table.add_column(column, no_wrap=True, min_width=len(column))
    return table


# -- formatting helpers ------------------------------------------------------------


def relative_time(when: datetime, now: datetime | None = None) -> str:
    """``when`` relative to ``now`` in its two largest units (:func:`.times.duration`):
    ``5h 26min`` ahead, ``3min 2s ago`` past (the LEFT column's ``overdue`` is
    :func:`.times.time_left`)."""
    now = now or datetime.now(when.tzinfo)
    seconds = math.floor((when - now).total_seconds())  # a moment ago is "1s ago", not "0s"
    return duration(seconds) if seconds >= 0 else f"{duration(-seconds)} ago"


def local_time(iso: str | None, now: datetime | None = None) -> str:
    """An ISO time in local time (:func:`.times.short_time`), then on a second line
    :func:`relative_time`; ``-`` for None."""
    if iso is None:
        return "-"
    when = datetime.fromisoformat(iso)
    local = when.astimezone()
    this_year = (now or datetime.now(local.tzinfo)).year
    return f"{short_time(local, this_year)}\n{relative_time(when, now)}"


def _state(state: str) -> str:
    label = _STATE_LABEL.get(state, "UNREADABLE")
    return f"[{_STATE_STYLE.get(state, 'red')}]{label}[/]"


def _escape(value: Any, limit: int = FIELD_CHARS) -> str:
    """A value as a table field: cut to ``limit`` characters, printable, markup escaped."""
    from rich.markup import escape

    return escape(field(value, limit))


# -- tables --------------------------------------------------------------------------


def _render_detail(console: Console, job: SchedulerJobDetail) -> None:
    table = _table("FIELD", "VALUE", wrap=("VALUE",))
    rows: list[tuple[str, Any]] = [
        ("id", job.id),
        ("name", job.name),
        ("state", _STATE_LABEL.get(job.state, "UNREADABLE")),
        ("next_run_time", job.next_run_time),
        ("next run (local)", local_time(job.next_run_time).replace("\n", ", ")),
        ("trigger", job.trigger),
        ("trigger_type", job.trigger_type),
    ]
    rows += [(f"  {k}", v) for k, v in job.trigger_args.items()]
    rows += [
        ("func", job.func),
        ("args", json.dumps(job.args, ensure_ascii=False, default=str)),
        ("kwargs", json.dumps(job.kwargs, ensure_ascii=False, default=str)),
        ("executor", job.executor),
        ("misfire_grace_time", job.misfire_grace_time),
        ("max_instances", job.max_instances),
        ("coalesce", job.coalesce),
        ("is_builtin", "?" if job.is_builtin is None else job.is_builtin),
        ("description", job.description),
    ]
    if job.unreadable_reason:
        rows.append(("unreadable_reason", job.unreadable_reason))
    if job.paused_by:  # the audit trail's latest pause (services/audit.py)
        since = local_time(job.paused_at).replace("\n", ", ")
        rows.append(("paused", f"by {job.paused_by} since {since}"))
        rows.append(("paused_reason", job.paused_reason))
    for key, value in rows:
        table.add_row(_escape(key), _escape("-" if value is None else value))
    console.print(table)


def _render_actions(console: Console, report: JobActionsResult) -> None:
    if not report.results:
        return
    table = _table("ID", "RESULT", "STATE", "NEXT RUN")
    for r in report.results:
        table.add_row(
            _escape(r.id),
            _escape(r.message),
            _state(r.state),
            local_time(r.next_run_time).replace("\n", ", "),
        )
    console.print(table)


def _render_run(console: Console, result: ManualRunResult) -> None:
    if result.succeeded:
        console.print(
            f"[green]succeeded[/] {_escape(result.thread_name)} in {result.duration_seconds:.3f}s"
        )
    else:
        outcome = "timed out" if result.timed_out else "failed"
        console.print(
            f"[red]{outcome}[/] {_escape(result.thread_name)} after "
            f"{result.duration_seconds:.3f}s: {_escape(result.error)}"
        )


def _render_replacement(console: Console, result: SchedulerJobsReloadResult) -> None:
    """A reload's or restore's diff and report (:mod:`.diff_view`): the services return
    every replacement with its diff."""
    from whalefall_sched.cli.diff_view import render_replacement
    from whalefall_sched.services.diff import ReplacementResult

    assert isinstance(result, ReplacementResult), type(result).__name__
    render_replacement(result)


def _yes(value: bool | None, unknown: str = "unknown") -> str:
    return {True: "yes", False: "no", None: unknown}[value]


def _lock_text(lock: dict[str, Any]) -> str:
    if not lock["exists"]:
        held = "no lock file (not evidence: the 2026-07 host keeps none)"
    elif lock["held"]:
        held = f"held by pid {lock['pid']}"
    elif lock["held"] is None:
        held = f"cannot tell ({_escape(lock.get('problem') or 'no /proc/locks')})"
    else:
        held = "not held" + (f" (last pid {lock['pid']})" if lock["pid"] else "")
    return f"{_escape(lock['path'])}: {held}"


def _render_status(console: Console, status: StoreStatus) -> None:
    table = _table("CHECK", "RESULT", wrap=("RESULT",))
    table.add_row("store", _escape(status.store))
    table.add_row("reachable", _yes(status.reachable))
    if status.reachable:
        table.add_row("initialised", _yes(status.initialised))
    # no SQLite file (nor directory): a store not initialised (exit 4), not one out of reach
    no_store = not status.reachable and (status.error or {}).get("code") == "conflict"
    if status.initialised:
        jobs = status.jobs
        table.add_row(
            "jobs",
            f"{jobs['total']} (running {jobs['running']}, paused {jobs['paused']}, "
            f"unreadable {jobs['unreadable']})",
        )
        table.add_row("next wake-up", local_time(status.next_wakeup).replace("\n", ", "))
    elif no_store:
        table.add_row("jobs", "?")
    if status.lock is not None:
        table.add_row("scheduler lock", _lock_text(status.lock))
    if status.liveness is not None and status.initialised:
        table.add_row("liveness", _escape(status.liveness["summary"]))
    table.add_row("health", _health(status, no_store=no_store))
    for reason in status.reasons:
        table.add_row("", f"- {_escape(reason)}")
    console.print(table)
    if status.overdue:
        overdue = _table("ID", "NEXT RUN", "LATE (s)", "GRACE (s)", title="Overdue jobs")
        for job in status.overdue:
            overdue.add_row(
                _escape(job["id"]),
                local_time(job["next_run_time"]).replace("\n", ", "),
                str(job["late_seconds"]),
                str(job["misfire_grace_time"]),
            )
        console.print(overdue)
    if status.unreadable:
        bad = _table("ID", "REASON", title="Unreadable rows", wrap=("REASON",))
        for row in status.unreadable:
            bad.add_row(_escape(row["id"]), _escape(row["reason"]))
        console.print(bad)


def _health(status: StoreStatus, *, no_store: bool) -> str:
    """The status table's verdict (Rich markup)."""
    if no_store:
        return f"[red]not initialised[/] (no store at {_escape(_sqlite_file(status.store))})"
    if not status.reachable:
        return "[red]unreachable[/]"
    return "[green]healthy[/]" if status.healthy else "[red]degraded[/]"


def _sqlite_file(store: str) -> str:
    """The file of a SQLite store's ``where`` (``sqlite:///PATH (table T)``)."""
    url = store.rsplit(" (table ", 1)[0]
    return url.removeprefix("sqlite:///").partition("?")[0] or url


def _render_init(console: Console, result: StoreInitResult) -> None:
    """What was created and registered, as two tables (what would be, in a dry run)."""
    created = [("directory", d) for d in result.directories]
    if result.file is not None:
        created.append(("file", result.file))
    created.append(("table", result.table))
    title = "Would create" if result.dry_run else "Created"
    table = _table("WHAT", "WHERE", title=f"{title}: {_escape(result.store)}")
    for what, where in created:
        table.add_row(what, _escape(where))
    console.print(table)
    verb = "Would register" if result.dry_run else "Registered"
    jobs = _table("ID", title=f"{verb} ({len(result.registered)})")
    for job_id in result.registered:
        jobs.add_row(_escape(job_id))
    console.print(jobs)
    if result.dry_run:
        console.print("Dry run: nothing changed.", style="dim")
