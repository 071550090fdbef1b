"""The ``list`` table's column model: which columns a listing has (cron fields, WEEK
when used, LAST when a run is known, the ``wide`` ones), and each job's cells in them,
NEXT, LEFT and LAST against one clock and one zone.

Every cell is made printable and cut to its limit (:mod:`.terminal`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from whalefall_sched.cli.terminal import CRON_FIELD_CHARS, LIST_FIELD_CHARS, field
from whalefall_sched.cli.times import Zone, short_time, time_left, zone_info
from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_UNREADABLE,
    SchedulerJobListItem,
)
from whalefall_sched.services.triggers import CRON_ARG_KEYS

#: Headings that are not the field's name in capitals.
_CRON_HEADINGS = {"second": "SEC", "minute": "MIN", "day_of_week": "DOW"}
#: (heading, field) of the host API's seven cron fields; WEEK is added when used.
CRON_COLUMNS = tuple(
    (_CRON_HEADINGS.get(key, key.upper()), key) for key in CRON_ARG_KEYS if key != "week"
)
#: The cron columns' headings, WEEK included.
_CRON_HEADING_SET = frozenset({*(h for h, _ in CRON_COLUMNS), "WEEK"})
#: The columns ``-o wide`` adds after BUILTIN; then PAUSED BY (who paused a paused job,
#: since when) when the audit trail knows any, and REASON (why a job is unreadable, or
#: why it was paused) when there is one.
_WIDE_COLUMNS = ("ZONE", "EXECUTOR", "FUNC", "DESCRIPTION", "REASON")

_STATE_LABEL = {STATE_RUNNING: "running", STATE_PAUSED: "paused"}
_BUILTIN = {True: "yes", False: "no", None: "?"}


# -- one job's values ----------------------------------------------------------------


def state_label(state: str) -> str:
    """``running``, ``paused`` or ``unreadable``."""
    return _STATE_LABEL.get(state, "unreadable")


class _Clock:
    """NEXT and LEFT of each job, against one ``now`` and one :class:`Zone`."""

    def __init__(self, zone: Zone, now: datetime | None = None) -> None:
        self.zone = zone
        self.now = now or datetime.now(UTC)
        self._year = self.now.astimezone(zone.tz).year if zone.tz else self.now.year
        self._zones: dict[str, tzinfo | None] = {}

    def when(self, item: SchedulerJobListItem) -> datetime | None:
        """The item's next run time in the zone shown; None when it has none."""
        if item.next_run_time is None:
            return None
        when = datetime.fromisoformat(item.next_run_time)
        if self.zone.tz is not None:
            return when.astimezone(self.zone.tz)
        own = self._own_zone(item.timezone)
        return when.astimezone(own) if own is not None else when

    def _own_zone(self, name: str | None) -> tzinfo | None:
        if name is None:
            return None
        if name not in self._zones:
            self._zones[name] = zone_info(name)
        return self._zones[name]

    def next_cell(self, when: datetime | None) -> str:
        """``MM-DD HH:MM`` this year, ``YYYY-MM-DD HH:MM`` another; ``-`` for none."""
        return "-" if when is None else short_time(when, self._year)

    def seconds_left(self, when: datetime) -> int:
        """Whole seconds from now to ``when`` (negative: passed)."""
        return int((when - self.now).total_seconds())


# -- the table -----------------------------------------------------------------------


@dataclass
class _Row:
    cells: list[str]
    #: Another trigger's description, or None for a cron job: shown across the cron columns.
    span: str | None
    state: str


def _columns(items: list[SchedulerJobListItem], *, wide: bool) -> list[str]:
    """The columns' keys: their headings, but NEXT's, which names the zone."""
    cron = [heading for heading, _ in CRON_COLUMNS]
    # A restricted ISO week must not read as "every week": WEEK shows when any job has one.
    if wide or any(i.trigger_args.get("week", "*") not in ("*", "") for i in items):
        cron.append("WEEK")
    columns = ["ID", "NAME", "TYPE", *cron, "NEXT", "LEFT", "STATE", "BUILTIN"]
    # LAST (the latest run's time and outcome) where the run history knows of a run
    if any(i.last_run_time is not None for i in items):
        columns.insert(columns.index("STATE"), "LAST")
    if wide:
        unreadable = any(i.state == STATE_UNREADABLE for i in items)
        columns += _WIDE_COLUMNS[:-1]
        if any(i.paused_by for i in items):
            columns.append("PAUSED BY")
        if unreadable or any(i.paused_reason for i in items):
            columns.append("REASON")
    return columns


def _list_field(value: Any) -> str:
    """:func:`field` at :data:`LIST_FIELD_CHARS`; ``-`` for no value. Ordinary text
    (printable, short) is returned as it is, without a call."""
    if not value:
        return "-"
    if isinstance(value, str) and len(value) <= LIST_FIELD_CHARS and value.isprintable():
        return value
    return field(value, LIST_FIELD_CHARS)


def _cron_cells(keys: list[str]) -> Callable[[dict[str, str]], list[str]]:
    """A cron job's cells, by :func:`field` at :data:`CRON_FIELD_CHARS`, remembered: the
    same few values fill most cells."""
    seen: dict[str, str] = {}

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        shown = seen.get(text)
        if shown is None:
            shown = seen[text] = field(text, CRON_FIELD_CHARS)
        return shown

    def cells(args: dict[str, str]) -> list[str]:
        return [seen.get(v) or cell(v) for v in [args.get(k, "") for k in keys]]

    return cells


def last_cell(item: SchedulerJobListItem, clock: _Clock) -> str:
    """The LAST column: the latest run's start in the zone shown and its outcome
    (``12-02 01:00 ok``, ``... failed``); ``-`` for no run."""
    if item.last_run_time is None:
        return "-"
    when = datetime.fromisoformat(item.last_run_time)
    if clock.zone.tz is not None:
        when = when.astimezone(clock.zone.tz)
    else:
        own = clock._own_zone(item.timezone)
        when = when.astimezone(own) if own is not None else when
    status = item.last_run_status or "?"
    outcome = {"completed": "ok", "completed_with_errors": "partial"}.get(status, status)
    return f"{clock.next_cell(when)} {_list_field(outcome)}"


def _paused_by(item: SchedulerJobListItem, clock: _Clock) -> str | None:
    """Who paused a paused job and since when (``alice@ops1 05-02 10:31``), or None."""
    if not item.paused_by or item.paused_at is None:
        return None
    when = datetime.fromisoformat(item.paused_at)
    if clock.zone.tz is not None:
        when = when.astimezone(clock.zone.tz)
    return f"{item.paused_by} {clock.next_cell(when)}"


def _rows(items: list[SchedulerJobListItem], columns: list[str], clock: _Clock) -> Iterator[_Row]:
    keys = [key for _, key in CRON_COLUMNS] + (["week"] if "WEEK" in columns else [])
    last = "LAST" in columns
    wide = "ZONE" in columns
    reason = "REASON" in columns
    cron_cells = _cron_cells(keys)
    blank = [""] * len(keys)
    for item in items:
        when = clock.when(item)
        cron = item.trigger_type == "cron"
        label = state_label(item.state)
        span = None if cron else _list_field(item.trigger_args.get("description"))
        cells = [
            _list_field(item.id) if item.id else "",
            _list_field(item.name),
            _list_field(item.trigger_type),
            *(cron_cells(item.trigger_args) if cron else blank),
            clock.next_cell(when),
            "-" if when is None else time_left(clock.seconds_left(when)),
            *([last_cell(item, clock)] if last else []),
            label,
            _BUILTIN[item.is_builtin],
        ]
        if wide:
            values = [item.timezone, item.executor, item.func_ref or item.func, item.description]
            if "PAUSED BY" in columns:
                values.append(_paused_by(item, clock))
            if reason:
                values.append(item.unreadable_reason or item.paused_reason)
            cells += [_list_field(v) for v in values]
        yield _Row(cells, span, label)
