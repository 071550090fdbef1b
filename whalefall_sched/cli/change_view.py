"""The tables of ``reschedule`` and ``delete`` (Rich, through :mod:`.render`'s helpers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whalefall_sched.services.job_delete import JobDeleteResult
from whalefall_sched.services.job_reschedule import JobRescheduleResult

if TYPE_CHECKING:
    from rich.console import Console


def render_change(console: Console, result: Any) -> bool:
    """Print a ``reschedule`` or ``delete`` result; False for any other result."""
    if isinstance(result, JobRescheduleResult):
        _render_reschedule(console, result)
    elif isinstance(result, JobDeleteResult):
        _render_delete(console, result)
    else:
        return False
    return True


def _render_reschedule(console: Console, result: JobRescheduleResult) -> None:
    from whalefall_sched.cli.result_tables import _escape, _state, _table, local_time

    table = _table("FIELD", "BEFORE", "AFTER", wrap=("BEFORE", "AFTER"))
    table.add_row("id", _escape(result.id), _escape(result.id))
    table.add_row("trigger", _escape(result.previous_trigger), _escape(result.trigger))
    table.add_row(
        "next run",
        local_time(result.previous_next_run_time).replace("\n", ", "),
        local_time(result.next_run_time).replace("\n", ", "),
    )
    table.add_row("state", "", _state(result.state))
    console.print(table)
    times = _table("#", "FIRE TIMES BEFORE", "FIRE TIMES AFTER", title="Next fire times (local)")
    count = max(len(result.previous_fire_times), len(result.fire_times))
    for i in range(count):
        before = result.previous_fire_times[i] if i < len(result.previous_fire_times) else None
        after = result.fire_times[i] if i < len(result.fire_times) else None
        times.add_row(
            str(i + 1),
            local_time(before).replace("\n", ", "),
            local_time(after).replace("\n", ", "),
        )
    console.print(times)
    if result.dry_run:
        console.print("Dry run: nothing changed.", style="dim")
    else:
        console.print(f"{_escape(result.id)}: {_escape(result.message)}")


def _render_delete(console: Console, result: JobDeleteResult) -> None:
    from whalefall_sched.cli.result_tables import _escape, _table

    if result.deleted:
        table = _table("ID", title=f"Deleted ({len(result.deleted)})")
        for job_id in result.deleted:
            table.add_row(_escape(job_id))
        console.print(table)
    if result.backup_path:
        console.print(
            f"Backup of every row (`restore` puts them all back): {_escape(result.backup_path)}",
            soft_wrap=True,
        )
