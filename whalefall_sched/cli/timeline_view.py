"""``timeline``'s picture: a header, the time axis, one lane per job, then the same-minute
collisions, notes and skipped jobs in words.

A plain writer (no Rich): every line is built here, at most ``width`` terminal cells
wide (the width helpers of :mod:`.terminal`), each lane on one line; colour is ANSI
escapes only where :func:`.terminal.use_color` says. Its pieces (marks, axis, lanes) are
:mod:`.timeline_grid`'s; ``get --next``'s section is :mod:`.fire_times_view`'s.
Every text from the store goes through :func:`~whalefall_sched.cli.terminal.field`
(printable, bounded) before it is measured and cut.
"""

from __future__ import annotations

import sys
from datetime import timedelta
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
from whalefall_sched.cli.timeline_grid import (
    _axis,
    _bucket_text,
    _Grid,
    _join,
    _lane,
    _Marks,
    _span_text,
    _styled,
    _when,
)

if TYPE_CHECKING:
    from whalefall_sched.services.timeline_dto import Timeline

#: The width when stdout is not a terminal.
PIPE_WIDTH = 100
#: The narrowest picture drawn.
MIN_WIDTH = 40
#: Lines of "same minute" listed under the picture (-o json lists every one).
COLLISION_LINES = 50


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
    from whalefall_sched.cli.json_output import json_document, print_json
    from whalefall_sched.cli.render import note

    if output is OutputFormat.json:
        print_json(json_document(timeline))
        return
    if not timeline.jobs:
        note("No jobs.")
        return
    write_lines(
        timeline_lines(timeline, output_width(width), color=use_color(color), unicode=use_unicode())
    )
