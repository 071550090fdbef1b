"""``runs`` and ``runs show`` as tables: a small fixed-width writer (no Rich).

One line per run, newest first. ERROR takes what the terminal's width leaves and is cut
with ``…`` (to :data:`ERROR_CHARS` when stdout is not a terminal); every field is made
printable. Times are in the machine's zone (``--tz`` of ``list``), a year shown only
when it is not this one.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from whalefall_sched.cli.terminal import cell_width, err_line, field, fit, stdout_width
from whalefall_sched.cli.times import duration, local_zone
from whalefall_sched.services.history_dto import RunDetail, RunList, RunSummary

#: Spaces between two columns.
GAP = 2
#: ERROR at most, where stdout is not a terminal.
ERROR_CHARS = 120
#: ERROR at least, in a terminal.
ERROR_MIN = 12
HEADINGS = ("RUN ID", "TASK", "SOURCE", "USER", "STATUS", "STARTED", "DURATION", "PROGRESS")


def started_cell(value: str | None, now: datetime | None = None) -> str:
    """``MM-DD HH:MM:SS`` in the local zone (``YYYY-MM-DD HH:MM:SS`` another year)."""
    if value is None:
        return "-"
    zone = local_zone().tz
    when = datetime.fromisoformat(value).astimezone(zone)
    year = (now or datetime.now(zone)).year
    return f"{when:%m-%d %H:%M:%S}" if when.year == year else f"{when:%Y-%m-%d %H:%M:%S}"


def duration_cell(ms: int | None) -> str:
    """``850ms``, ``12.3s``, ``4min 5s``, ``2h 3min``; ``-`` for none."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    return duration(int(seconds))


def progress_cell(run: RunSummary) -> str:
    """``done/total`` (and ``, N failed``); ``-`` where the source keeps no progress."""
    if not run.progress_total:
        return "-"
    text = f"{run.progress_completed or 0}/{run.progress_total}"
    return f"{text}, {run.progress_failed} failed" if run.progress_failed else text


def _cells(run: RunSummary) -> list[str]:
    return [
        field(run.id, 80),
        field(run.task_id, 80),
        field(run.trigger_source or "-", 20),
        field(run.created_by or "-", 40),
        field(run.status, 40),
        started_cell(run.started_at),
        duration_cell(run.duration_ms),
        progress_cell(run),
    ]


def run_lines(runs: list[RunSummary], width: int | None) -> list[str]:
    """The header and one line per run; ERROR fitted to ``width`` (None: no terminal)."""
    rows = [_cells(run) for run in runs]
    widths = [
        max([cell_width(h)] + [cell_width(r[i]) for r in rows]) for i, h in enumerate(HEADINGS)
    ]
    used = sum(widths) + GAP * len(widths)
    room = ERROR_CHARS if width is None else max(ERROR_MIN, width - used)
    gap = " " * GAP

    def joined(cells: list[str], error: str) -> str:
        padded = [c + " " * (w - cell_width(c)) for c, w in zip(cells, widths, strict=True)]
        return (gap.join(padded) + gap + error).rstrip()

    lines = [joined(list(HEADINGS), "ERROR")]
    for run, cells in zip(runs, rows, strict=True):
        error = " ".join((run.error_message or "-").split())
        lines.append(joined(cells, fit(field(error, 4 * room), room)))
    return lines


def render_runs(result: RunList) -> None:
    """``runs`` as a table on stdout; ``No runs.`` on stderr when there is none."""
    if not result.runs:
        err_line(f"No runs in {result.where}.")
        return
    sys.stdout.write("\n".join(run_lines(result.runs, stdout_width())) + "\n")
    sys.stdout.flush()


def _pairs(detail: RunDetail) -> list[tuple[str, Any]]:
    run = detail.run
    return [
        ("id", run.id),
        ("task", run.task_id),
        ("task_name", run.task_name),
        ("task_category", detail.task_category),
        ("source", run.trigger_source),
        ("user", run.created_by),
        ("status", run.status),
        ("started_at", run.started_at),
        ("completed_at", run.completed_at),
        ("duration", duration_cell(run.duration_ms)),
        ("progress", progress_cell(run)),
        ("error", run.error_message),
        ("summary", detail.summary),
        ("result_url", detail.result_url),
        ("history", run.source),
    ]


def render_run(detail: RunDetail) -> None:
    """``runs show``: the run's fields, then its items (if any)."""
    import json

    out: list[str] = []
    pairs = _pairs(detail)
    key_width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        if value is None or value == "":
            shown = "-"
        elif isinstance(value, str):
            shown = value
        else:
            shown = json.dumps(value, ensure_ascii=False, default=str)
        out.append(f"{key.ljust(key_width)}  {field(shown)}")
    if detail.items:
        out.append("")
        headings = ["ITEM", "TYPE", "NAME", "STATUS", "STARTED", "ERROR"]
        rows = [
            [
                field(i.item_key, 80),
                field(i.item_type, 20),
                field(i.item_name or "-", 80),
                field(i.status, 40),
                started_cell(i.started_at),
                field(" ".join((i.error_message or "-").split()), ERROR_CHARS),
            ]
            for i in detail.items
        ]
        widths = [
            max([cell_width(h)] + [cell_width(r[c]) for r in rows]) for c, h in enumerate(headings)
        ]
        for cells in [headings, *rows]:
            padded = [c + " " * (w - cell_width(c)) for c, w in zip(cells, widths, strict=True)]
            out.append((" " * GAP).join(padded).rstrip())
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()
