"""The ``list`` table fitted to a width and written as lines, by a small fixed-width
writer (no Rich: 20,000 rows take a fraction of a second).

In a terminal each line fits its width: NAME is cut first (with ``…``), then columns are
dropped in :data:`DROP_ORDER`; ID and STATE are never cut nor dropped. With no width
(``wide``, or stdout not a terminal) nothing is cut or dropped. Widths are counted in
terminal cells (账户同步 takes 8). The columns and cells are :mod:`.list_columns`'.
"""

from __future__ import annotations

from collections.abc import Iterable

from whalefall_sched.cli.list_columns import (
    _CRON_HEADING_SET,
    _Clock,
    _columns,
    _rows,
)
from whalefall_sched.cli.terminal import LIST_FIELD_CHARS, cell_width, field, fit
from whalefall_sched.services.dto import SchedulerJobListItem

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

_STATE_COLOUR = {"running": "32", "paused": "33", "unreadable": "31"}
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


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
