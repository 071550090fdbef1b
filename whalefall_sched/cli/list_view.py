"""The ``list`` command's human and script outputs: a table of one row per job, written by
a small fixed-width writer (no Rich: 20,000 rows take a fraction of a second).

- ``table``: one line per job whatever the width. In a terminal the line fits its width:
  NAME is cut first (with ``…``), then columns are dropped in :data:`DROP_ORDER`; ID and
  STATE are never cut nor dropped. When stdout is not a terminal nothing is cut or dropped.
- ``wide``: every column, nothing cut to the terminal (lines may be longer than it).
- ``name``: the ids, one a line (for ``xargs``).
- ``tsv``: :data:`TSV_COLUMNS`, tab-separated, values escaped (:func:`tsv_value`).

Widths are counted in terminal cells (账户同步 takes 8). Every field is made printable
and cut to its limit (:mod:`.terminal`), as in every other table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from whalefall_sched.cli.render_types import ColorMode, ListOutput
from whalefall_sched.cli.terminal import (
    CRON_FIELD_CHARS,
    LIST_FIELD_CHARS,
    cell_width,
    err_line,
    field,
    fit,
    printable,
    stdout_width,
    use_color,
    write_lines,
)
from whalefall_sched.cli.times import (
    Zone,
    local_zone,
    short_time,
    time_left,
    zone_info,
)
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
#: Spaces between two columns.
GAP = 2
#: NAME is cut down to this many cells before any column is dropped.
NAME_MIN = 8
#: Where the line is too long for the terminal, the first of these still shown goes
#: first (NAME after it was cut to :data:`NAME_MIN`); ID and STATE always stay.
DROP_ORDER = (
    "LAST",
    "BUILTIN",
    "YEAR",
    "WEEK",
    "MONTH",
    "DOW",
    "DAY",
    "SEC",
    "TYPE",
    "MIN",
    "HOUR",
    "NAME",
    "NEXT",
    "LEFT",
)
#: The columns of ``-o tsv``, in order (documented in the README; add only at the end).
TSV_COLUMNS = (
    "id",
    "name",
    "state",
    "trigger_type",
    *CRON_ARG_KEYS,
    "trigger",
    "next_run_time",
    "left_seconds",
    "timezone",
    "is_builtin",
    "executor",
    "func",
    "description",
    "unreadable_reason",
)

_STATE_LABEL = {STATE_RUNNING: "running", STATE_PAUSED: "paused"}
_STATE_COLOUR = {"running": "32", "paused": "33", "unreadable": "31"}
_BUILTIN = {True: "yes", False: "no", None: "?"}
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


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


# -- options -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListOptions:
    """How ``list`` shows its jobs."""

    output: ListOutput = ListOutput.table
    zone: Zone | None = None  # None: the local zone
    headers: bool = True
    color: ColorMode = ColorMode.auto


# -- the entry point -----------------------------------------------------------------


def render_list(items: Iterable[SchedulerJobListItem], options: ListOptions) -> None:
    """Write ``items`` to stdout as ``options.output`` says (not JSON)."""
    output = options.output
    if output is ListOutput.name:
        write_lines(printable(item.id) for item in items)
        return
    zone = options.zone or local_zone()
    if output is ListOutput.tsv:
        write_lines(tsv_lines(items, _Clock(zone), headers=options.headers))
        return
    wide = output is ListOutput.wide
    lines, unreadable = table_lines(
        items,
        _Clock(zone),
        wide=wide,
        width=None if wide else stdout_width(),
        headers=options.headers,
        colour=use_color(options.color),
    )
    if lines is None:
        err_line("No jobs.")
        return
    write_lines(lines)
    if unreadable and not wide:
        err_line(
            f"note: {unreadable} job(s) unreadable: `list -o wide` or `get ID` shows why "
            "(each row is left as it is)"
        )


# -- tsv -----------------------------------------------------------------------------


def tsv_value(value: Any) -> str:
    """One TSV field: empty for None; a backslash doubled, then tab, newline, carriage
    return and every other control or invisible character as its backslash escape
    (``\\t``, ``\\n``, ``\\x1b``, ``\\u202e``), so no value can break a row."""
    if value is None:
        return ""
    text = str(value)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    return printable(text)


def tsv_lines(
    items: Iterable[SchedulerJobListItem], clock: _Clock, *, headers: bool = True
) -> Iterator[str]:
    """The header line (unless ``headers`` is False), then one line per job."""
    if headers:
        yield "\t".join(TSV_COLUMNS)
    for item in items:
        when = clock.when(item)
        cron = item.trigger_type == "cron"
        builtin = {True: "yes", False: "no", None: None}[item.is_builtin]
        values: list[Any] = [
            item.id,
            item.name,
            state_label(item.state),
            item.trigger_type,
            *(item.trigger_args.get(key) if cron else None for key in CRON_ARG_KEYS),
            None if cron else item.trigger_args.get("description"),
            None if when is None else when.isoformat(timespec="seconds"),
            None if when is None else clock.seconds_left(when),
            item.timezone,
            builtin,
            item.executor,
            item.func_ref or item.func,
            item.description,
            item.unreadable_reason,
        ]
        yield "\t".join(tsv_value(v) for v in values)


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


def table_lines(
    items: Iterable[SchedulerJobListItem],
    clock: _Clock,
    *,
    wide: bool = False,
    width: int | None = None,
    headers: bool = True,
    colour: bool = False,
) -> tuple[list[str] | None, int]:
    """The table's lines (None when there is no job) and how many jobs are unreadable.

    ``width`` None: nothing is cut or dropped; else each line fits ``width`` cells as far
    as ID and STATE allow.
    """
    items = list(items)
    if not items:
        return None, 0
    columns = _columns(items, wide=wide)
    headings = [f"NEXT ({clock.zone.label})" if c == "NEXT" else c for c in columns]
    headings = [field(heading, LIST_FIELD_CHARS) for heading in headings]
    rows = list(_rows(items, columns, clock))
    cells_by_column = [list(column) for column in zip(*(r.cells for r in rows), strict=True)]
    natural = [
        max(cell_width(heading), _widest(cells))
        for heading, cells in zip(headings, cells_by_column, strict=True)
    ]
    cron_at = [i for i, key in enumerate(columns) if key in _CRON_HEADING_SET]
    spans = [r.span for r in rows]
    span_need = max((cell_width(span) for span in spans if span is not None), default=0)
    shown, widths = _layout(columns, natural, width, cron_at, span_need)
    lines = [_header_line(headings, shown, widths, colour)] if headers else []
    blocks: list[list[str]] = []
    spanned = [i for i in shown if i in cron_at]
    for i in shown:
        if i in spanned:
            if i == spanned[0]:
                blocks.append(_cron_block(cells_by_column, spanned, widths, spans))
            continue
        cells = _padded(cells_by_column[i], widths[i], pad=i != shown[-1])
        if colour and columns[i] == "STATE":
            cells = [_coloured(cell) for cell in cells]
        blocks.append(cells)
    gap = " " * GAP
    lines += [gap.join(parts).rstrip(" ") for parts in zip(*blocks, strict=True)]
    unreadable = sum(1 for r in rows if r.state == "unreadable")
    return lines, unreadable


def _widest(cells: list[str]) -> int:
    if "".join(cells).isascii():
        return max(map(len, cells))
    return max(map(cell_width, cells))


def _padded(cells: list[str], width: int, *, pad: bool = True) -> list[str]:
    """``cells`` cut to ``width`` cells where longer, then (``pad``) filled to it."""
    if "".join(cells).isascii():
        if max(map(len, cells)) > width:
            cells = [fit(cell, width) for cell in cells]
        return [cell.ljust(width) for cell in cells] if pad else cells
    shown = []
    for text in cells:
        size = cell_width(text)
        cell = text if size <= width else fit(text, width)
        if pad:
            cell += " " * (width - (size if cell is text else cell_width(cell)))
        shown.append(cell)
    return shown


def _coloured(cell: str) -> str:
    label = cell.rstrip(" ")
    return f"\x1b[{_STATE_COLOUR[label]}m{label}{_RESET}{cell[len(label) :]}"


def _cron_block(
    cells_by_column: list[list[str]],
    spanned: list[int],
    widths: list[int],
    spans: list[str | None],
) -> list[str]:
    """The cron columns shown, as one block per row: a cron job's fields, or another
    trigger's description across them."""
    width = sum(widths[i] for i in spanned) + GAP * (len(spanned) - 1)
    gap = " " * GAP
    joined = [
        gap.join(parts)
        for parts in zip(*(_padded(cells_by_column[i], widths[i]) for i in spanned), strict=True)
    ]
    if all(span is None for span in spans):
        return joined
    return [
        text if span is None else _padded([span], width)[0]
        for text, span in zip(joined, spans, strict=True)
    ]


def _layout(
    columns: list[str],
    natural: list[int],
    width: int | None,
    cron_at: list[int],
    span_need: int,
) -> tuple[list[int], list[int]]:
    """The indexes of the columns shown and every column's width.

    Tried in turn: every column; then without the first of :data:`DROP_ORDER`, and so
    on. The first that fits (NAME cut to no less than :data:`NAME_MIN`) is taken; where
    nothing fits, ID and STATE alone (the line is then longer than ``width``).
    """
    widths = list(natural)
    everything = list(range(len(columns)))
    if width is None:
        _widen_span(everything, widths, cron_at, span_need, room=None)
        return everything, widths
    name = columns.index("NAME")
    order = [key for key in DROP_ORDER if key in columns]
    shown = everything
    for step in range(len(order) + 1):
        dropped = set(order[:step])
        shown = [i for i in everything if columns[i] not in dropped]
        total = sum(widths[i] for i in shown) + GAP * (len(shown) - 1)
        if total <= width:
            _widen_span(shown, widths, cron_at, span_need, room=width - total)
            return shown, widths
        if name in shown:
            cut = natural[name] - (total - width)
            if cut >= min(NAME_MIN, natural[name]):
                widths[name] = cut
                return shown, widths
    return shown, widths


def _widen_span(
    shown: list[int], widths: list[int], cron_at: list[int], need: int, room: int | None
) -> None:
    """Widen the last cron column shown so another trigger's description fits across
    the cron columns (by no more than ``room`` cells, where there is a limit)."""
    spanned = [i for i in cron_at if i in shown]
    if not spanned or not need:
        return
    have = sum(widths[i] for i in spanned) + GAP * (len(spanned) - 1)
    more = need - have
    if room is not None:
        more = min(more, room)
    if more > 0:
        widths[spanned[-1]] += more


def _header_line(headings: list[str], shown: list[int], widths: list[int], colour: bool) -> str:
    padded = (_padded([headings[i]], widths[i])[0] for i in shown)
    text = (" " * GAP).join(padded).rstrip()
    return f"{_BOLD}{text}{_RESET}" if colour else text
