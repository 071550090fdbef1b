"""How fire times look: ``get --next``'s section and ``timeline``'s picture.

A plain writer (no Rich): every line is built here, at most ``width`` terminal cells
wide (the width helpers of :mod:`.terminal`), each lane on one line; colour is ANSI
escapes only where :func:`.terminal.use_color` says.
Every text from the store goes through :func:`~whalefall_sched.cli.terminal.field`
(printable, bounded) before it is measured and cut.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from whalefall_sched.cli.render_types import ColorMode, OutputFormat
from whalefall_sched.cli.terminal import (
    LIST_FIELD_CHARS,
    cell_width,
    field,
    fit,
    pad,
    stdout_width,
    use_color,
    write_lines,
)

if TYPE_CHECKING:
    from whalefall_sched.services.timeline_dto import JobFireTimes, JobNextFireTimes, Timeline

#: ``get --next N``: N at most (the service checks the same bound).
MAX_NEXT = 1000
#: The width when stdout is not a terminal.
PIPE_WIDTH = 100
#: The narrowest picture drawn.
MIN_WIDTH = 40
#: Lines of "same minute" listed under the picture (-o json lists every one).
COLLISION_LINES = 50

_RESET = "\x1b[0m"
_STYLES = {"dim": "\x1b[2m", "hot": "\x1b[1;31m", "bold": "\x1b[1m", "": ""}


# -- terminal facts ------------------------------------------------------------------


def output_width(explicit: int | None = None) -> int:
    """``explicit``, else the terminal's width when stdout is one (:func:`stdout_width`),
    else :data:`PIPE_WIDTH`; never below :data:`MIN_WIDTH`."""
    if explicit is not None:
        return max(MIN_WIDTH, explicit)
    return max(MIN_WIDTH, stdout_width() or PIPE_WIDTH)


def use_unicode() -> bool:
    """Whether stdout takes UTF-8 (else the marks are ASCII)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return encoding == "utf8"


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken at spaces (a word longer than
    a line is broken too); lines after the first start with ``indent``."""
    lead = text[: len(text) - len(text.lstrip(" "))]
    lines: list[str] = []
    current = lead
    for word in text[len(lead) :].split(" "):
        candidate = f"{current} {word}" if current.strip() else current + word
        if cell_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = indent + word
        while cell_width(current) > width:
            head = fit(current, width, marker="")
            lines.append(head)
            current = indent + current[len(head) :]
    if current or not lines:
        lines.append(current)
    return lines


def _styled(text: str, style: str, color: bool) -> str:
    if not color or not style or not text:
        return text
    return f"{_STYLES[style]}{text}{_RESET}"


# -- get --next ----------------------------------------------------------------------


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
    from whalefall_sched.cli.render import json_document, print_json, render

    if output is OutputFormat.json:
        print_json(json_document(result.detail) | result.extra_keys())
        return
    render(result.detail, output)
    write_lines(next_fire_times_lines(result))


# -- timeline ------------------------------------------------------------------------


class _Marks:
    def __init__(self, unicode: bool) -> None:
        self.empty = "·" if unicode else "."
        self.one = "●" if unicode else "o"
        self.ellipsis = "…" if unicode else "~"
        self.many = "#"
        self.unknown = "?"
        self.collision = "!"

    def count(self, n: int) -> str:
        if n == 1:
            return self.one
        return str(n) if n < 10 else self.many


class _Grid:
    """Where a time falls among ``columns`` buckets from ``start`` to ``end``."""

    def __init__(self, start: datetime, end: datetime, columns: int) -> None:
        self.start = start
        self.seconds = (end - start).total_seconds()
        self.columns = columns

    def column(self, when: datetime) -> int:
        offset = (when - self.start).total_seconds()
        return min(self.columns - 1, max(0, int(offset * self.columns / self.seconds)))

    @property
    def bucket(self) -> timedelta:
        return timedelta(seconds=self.seconds / self.columns)


def _hours(start: datetime, end: datetime, zone: tzinfo | None) -> Iterator[datetime]:
    """Every whole local hour from ``start`` to ``end`` (DST and half-hour zones
    included: instants are walked in UTC quarter hours)."""
    step = timedelta(minutes=15)
    utc = start.astimezone(UTC)
    instant = utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)
    while instant < end:
        if instant > start:
            local = instant.astimezone(zone)
            if local.minute == 0:
                yield local
        instant += step


_LABEL_STEPS = (1, 2, 3, 4, 6, 12, 24, 48, 72, 168)


def _axis(grid: _Grid, start: datetime, end: datetime, zone: tzinfo | None) -> tuple[str, str]:
    """The labels line and the ticks line above the lanes."""
    per_hour = grid.columns / (grid.seconds / 3600)
    step = next((s for s in _LABEL_STEPS if s * per_hour >= 7), _LABEL_STEPS[-1])
    minor = next((s for s in (1, 2, 3, 6, 12, 24) if s * per_hour >= 2), 24)
    labels = [" "] * grid.columns
    ticks = [" "] * grid.columns
    free_from = 0
    for local in _hours(start, end, zone):
        col = grid.column(local)
        if step < 24:
            major = local.hour % step == 0
        else:
            major = local.hour == 0 and local.toordinal() % (step // 24) == 0
        if major:
            text = f"{local:%m-%d}" if local.hour == 0 else f"{local:%H:%M}"
            if col >= free_from and col + len(text) <= grid.columns:
                labels[col : col + len(text)] = text
                free_from = col + len(text) + 1
                ticks[col] = "|"
                continue
        if local.hour % minor == 0 and ticks[col] == " ":
            ticks[col] = "'"
    return "".join(labels).rstrip(), "".join(ticks).rstrip()


def _lane(
    job: JobFireTimes,
    grid: _Grid,
    hot_minutes: set[datetime],
    marks: _Marks,
    color: bool,
) -> tuple[str, set[int]]:
    """One job's row of buckets, and the columns where it fires in a collision."""
    counts = [0] * grid.columns
    hot = [False] * grid.columns
    for when in job.fire_times:
        col = grid.column(when)
        counts[col] += 1
        if when.astimezone(UTC).replace(second=0, microsecond=0) in hot_minutes:
            hot[col] = True
    unknown_from = grid.columns
    if not job.complete:
        last = job.fire_times[-1] if job.fire_times else None
        unknown_from = grid.column(last) + 1 if last is not None else 0
    cells_: list[tuple[str, str]] = []
    for col in range(grid.columns):
        if counts[col]:
            style = "hot" if hot[col] else ("dim" if job.paused else "")
            cells_.append((marks.count(counts[col]), style))
        elif col >= unknown_from:
            cells_.append((marks.unknown, "dim"))
        else:
            cells_.append((marks.empty, "dim"))
    return _join(cells_, color), {col for col in range(grid.columns) if hot[col]}


def _join(items: list[tuple[str, str]], color: bool) -> str:
    """Characters with styles, one escape sequence per run of one style."""
    out: list[str] = []
    run, style = "", ""
    for char, item_style in items:
        if item_style != style and run:
            out.append(_styled(run, style, color))
            run = ""
        run += char
        style = item_style
    out.append(_styled(run, style, color))
    return "".join(out)


def _when(moment: datetime, zone: tzinfo | None, dated: bool) -> str:
    local = moment.astimezone(zone)
    return f"{local:%m-%d %H:%M}" if dated else f"{local:%H:%M}"


def _span_text(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours % 24 == 0:
        return f"{int(hours // 24)}d" if hours != 24 else "24h"
    return f"{hours:g}h"


def _bucket_text(bucket: timedelta) -> str:
    seconds = bucket.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def timeline_lines(
    timeline: Timeline, width: int, *, color: bool = False, unicode: bool = True
) -> list[str]:
    """The picture: a header, the time axis, one lane per job, then what the colours say
    in words (jobs in the same minute, capped lanes, skipped jobs); every line at most
    ``width`` cells."""
    view = _View(timeline, width, color, _Marks(unicode))
    return [
        *view.picture(),
        *view.collision_lines(),
        *view.remark_lines(),
        *view.skipped_lines(),
    ]


class _View:
    """One timeline drawn at one width."""

    def __init__(self, timeline: Timeline, width: int, color: bool, marks: _Marks) -> None:
        self.timeline = timeline
        self.width = width
        self.color = color
        self.marks = marks
        self.zone = timeline.zone
        self.start, self.end = timeline.start, timeline.end
        self.lanes = timeline.lanes
        #: each id printable and bounded, as every table shows it
        self.labels = {job.id: field(job.id, LIST_FIELD_CHARS) for job in timeline.jobs}
        self.suffix = {job.id: " (paused)" if job.paused else "" for job in self.lanes}
        wanted = [cell_width(self.labels[j.id] + self.suffix[j.id]) for j in self.lanes]
        self.label_width = min(max([*wanted, len(_SAME), 3]), max(10, width * 2 // 5))
        self.grid = _Grid(self.start, self.end, width - self.label_width - 1)
        last = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        self.dated = self.start.astimezone(self.zone).date() != last

    def _title(self, text: str) -> list[str]:
        return ["", _styled(text, "bold", self.color)]

    def _wrapped(self, text: str) -> list[str]:
        return wrap("  " + text, self.width, indent="    ")

    def picture(self) -> list[str]:
        """Header, axis, one line per lane, the same-minute row and the legend."""
        marks, grid, width = self.marks, self.grid, self.label_width
        header = (
            f"TIMELINE next {_span_text(self.end - self.start)}: "
            f"{_when(self.start, self.zone, True)} to {_when(self.end, self.zone, True)} "
            f"{self.timeline.zone_name}; one column = {_bucket_text(grid.bucket)}"
        )
        lines = [_styled(line, "bold", self.color) for line in wrap(header, self.width)]
        label_line, tick_line = _axis(grid, self.start, self.end, self.zone)
        lines.append(pad("", width) + " " + label_line)
        lines.append(pad("JOB", width) + " " + tick_line)
        hot_minutes = {c.minute for c in self.timeline.collisions}
        hot_columns: set[int] = set()
        for job in self.lanes:
            room = width - cell_width(self.suffix[job.id])
            label = fit(self.labels[job.id], max(1, room), marks.ellipsis) + self.suffix[job.id]
            hot = set() if job.paused else hot_minutes
            lane, columns = _lane(job, grid, hot, marks, self.color)
            hot_columns |= columns
            lines.append(_styled(pad(label, width), "dim" if job.paused else "", self.color))
            lines[-1] += " " + lane
        if hot_columns:
            row = [
                (marks.collision, "hot") if col in hot_columns else (" ", "")
                for col in range(grid.columns)
            ]
            same = pad(fit(_SAME, width, marks.ellipsis), width)
            lines.append(f"{same} {_join(row, self.color).rstrip()}")
        if not self.lanes:
            lines.append("No job has a trigger to draw.")
        legend = (
            f"{marks.one} once, 2-9 times, {marks.many} 10 or more; {marks.collision} jobs "
            f"in the same minute; {marks.unknown} not computed"
        )
        return lines + wrap(legend, self.width)

    def collision_lines(self) -> list[str]:
        """``02:00 sync_accounts, cleanup_logs``: the collisions in words."""
        collisions = self.timeline.collisions
        if not collisions:
            return []
        lines = self._title(f"SAME MINUTE ({len(collisions)})")
        for collision in collisions[:COLLISION_LINES]:
            ids = ", ".join(self.labels.get(i, field(i)) for i in collision.ids)
            lines += self._wrapped(f"{_when(collision.minute, self.zone, self.dated)} {ids}")
        if len(collisions) > COLLISION_LINES:
            more = len(collisions) - COLLISION_LINES
            lines += self._wrapped(f"... and {more:,} more (-o json lists them all)")
        return lines

    def remark_lines(self) -> list[str]:
        """Capped lanes, searches that stopped early, jitter, what paused means."""
        remarks: list[str] = []
        for job in self.lanes:
            name = self.labels[job.id]
            if job.capped:
                last = _when(job.fire_times[-1], self.zone, True)
                remarks.append(
                    f"{name}: capped at {self.timeline.cap:,} fire times (the last drawn "
                    f"at {last}); {self.marks.unknown} marks the rest"
                )
            elif job.problem is not None:
                remarks.append(f"{name}: fire times stop early: {field(job.problem)}")
            remarks += [f"{name}: {field(note)}" for note in job.notes]
        if any(job.paused for job in self.lanes):
            remarks.append("(paused): the times the job would fire if resumed; it fires none")
        if not remarks:
            return []
        lines = self._title("NOTES")
        for remark in remarks:
            lines += self._wrapped(remark)
        return lines

    def skipped_lines(self) -> list[str]:
        """The unreadable jobs and why."""
        skipped = self.timeline.skipped
        if not skipped:
            return []
        lines = self._title(f"SKIPPED, UNREADABLE ({len(skipped)})")
        for job in skipped:
            lines += self._wrapped(f"{self.labels[job.id]}: {field(job.problem)}")
        return lines


_SAME = "! same minute"


def render_timeline(
    timeline: Timeline,
    output: OutputFormat,
    *,
    width: int | None = None,
    color: ColorMode = ColorMode.auto,
) -> None:
    """The timeline as the picture, or as one JSON document."""
    from whalefall_sched.cli.render import json_document, note, print_json

    if output is OutputFormat.json:
        print_json(json_document(timeline))
        return
    if not timeline.jobs:
        note("No jobs.")
        return
    write_lines(
        timeline_lines(timeline, output_width(width), color=use_color(color), unicode=use_unicode())
    )
