"""``get --next N``: the ``NEXT N FIRE TIMES`` section under get's table (local time,
UTC, time left), or get's JSON document with the fire times added.

A plain writer (no Rich); every text from the store goes through
:func:`~whalefall_sched.cli.terminal.field` (printable, bounded).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.terminal import cell_width, field, pad, write_lines

if TYPE_CHECKING:
    from whalefall_sched.services.timeline_dto import JobNextFireTimes

#: ``get --next N``: N at most (the service checks the same bound).
MAX_NEXT = 1000


def _local(when: datetime, zone: tzinfo | None = None) -> str:
    local = when.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"


def next_fire_times_lines(result: JobNextFireTimes) -> list[str]:
    """The ``NEXT N FIRE TIMES`` section under get's table (local time, UTC, time left)."""
    from whalefall_sched.cli.times import local_zone, time_left
    from whalefall_sched.services.dto import utc_z

    fires = result.fires
    title = f"NEXT {result.count} FIRE TIMES"
    if fires.paused:
        title += " (paused: the times it would fire if resumed)"
    lines = ["", title]
    if fires.fire_times:
        zone = local_zone().tz
        rows = [
            (_local(t, zone), utc_z(t), time_left(int((t - result.now).total_seconds())))
            for t in fires.fire_times
        ]
        first = max(len("LOCAL"), *(cell_width(r[0]) for r in rows))
        lines.append(f"{pad('LOCAL', first)}  {pad('UTC', 20)}  LEFT")
        lines += [f"{pad(local, first)}  {utc}  {left}" for local, utc, left in rows]
    note = result.note()
    if note:
        lines.append(f"note: {field(note)}")
    return lines


def render_next_fire_times(result: JobNextFireTimes, output: OutputFormat) -> None:
    """get's table or document, with the next fire times added."""
    from whalefall_sched.cli.json_output import json_document, print_json
    from whalefall_sched.cli.render import render

    if output is OutputFormat.json:
        print_json(json_document(result.detail) | result.extra_keys())
        return
    render(result.detail, output)
    write_lines(next_fire_times_lines(result))
