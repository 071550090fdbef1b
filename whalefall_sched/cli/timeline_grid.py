"""The timeline picture's pieces: the marks, where a time falls among the columns, the
time axis, one job's lane, and styles as ANSI escapes (one per run of one style).

Assembled into the picture by :mod:`.timeline_view`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whalefall_sched.services.timeline_dto import JobFireTimes

_RESET = "\x1b[0m"
_STYLES = {"dim": "\x1b[2m", "hot": "\x1b[1;31m", "bold": "\x1b[1m", "": ""}


def _styled(text: str, style: str, color: bool) -> str:
    if not color or not style or not text:
        return text
    return f"{_STYLES[style]}{text}{_RESET}"


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
