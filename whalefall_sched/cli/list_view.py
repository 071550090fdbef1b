"""The ``list`` command's human and script outputs (not JSON): the entry point that
picks the writer.

- ``table``: one line per job whatever the width, fitted to a terminal's width
  (:mod:`.list_layout`); nothing is cut or dropped when stdout is not a terminal.
- ``wide``: every column, nothing cut to the terminal (lines may be longer than it).
- ``name``: the ids, one a line (for ``xargs``).
- ``tsv``: tab-separated values (:mod:`.list_tsv`).

The columns and each job's cells are :mod:`.list_columns`'. Every field is made
printable and cut to its limit (:mod:`.terminal`), as in every other table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from whalefall_sched.cli.list_columns import _Clock
from whalefall_sched.cli.list_layout import table_lines
from whalefall_sched.cli.list_tsv import tsv_lines
from whalefall_sched.cli.render_types import ColorMode, ListOutput
from whalefall_sched.cli.terminal import (
    err_line,
    printable,
    stdout_width,
    use_color,
    write_lines,
)
from whalefall_sched.cli.times import Zone, local_zone
from whalefall_sched.services.dto import SchedulerJobListItem

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
