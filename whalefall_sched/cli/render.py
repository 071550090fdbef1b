"""Every result printed as ``-o`` says: :func:`render` sends it to its JSON document
(:mod:`.json_output`) or its human output; errors and notes go to stderr.

``list`` tables are written by :mod:`.list_view`, ``timeline`` and ``get --next`` by
:mod:`.timeline_view` and :mod:`.fire_times_view` (plain writers); the others through
Rich (:mod:`.result_tables`, :mod:`.change_view`), imported only when such a table is
printed. Every field of a table and every line on stderr is cut and made printable
(:mod:`.terminal`); JSON is exact.
"""

from __future__ import annotations

from typing import Any

from whalefall_sched.cli.json_output import (
    JobList,
    error_document,
    json_document,
    print_json,
    print_json_items,
)
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.result_tables import (
    _console,
    _render_actions,
    _render_detail,
    _render_init,
    _render_replacement,
    _render_run,
    _render_status,
)
from whalefall_sched.cli.terminal import err_line
from whalefall_sched.services.action_dto import JobActionsResult, ManualRunResult
from whalefall_sched.services.dto import SchedulerJobDetail
from whalefall_sched.services.init_store import StoreInitResult
from whalefall_sched.services.store_dto import SchedulerJobsReloadResult, StoreStatus

#: Problems listed under an ``Error:`` line; JSON lists them all.
PROBLEM_LINES = 100


def render(result: Any, output: OutputFormat) -> None:
    """Print ``result`` as JSON or as tables, whichever ``output`` says."""
    if output is OutputFormat.json:
        if isinstance(result, JobList):
            print_json_items(item.to_dict() for item in result.items)
        else:
            print_json(json_document(result))
        return
    if isinstance(result, JobList):
        from whalefall_sched.cli.list_view import ListOptions, render_list

        render_list(result.items, ListOptions())
        return
    console = _console()
    if isinstance(result, SchedulerJobDetail):
        _render_detail(console, result)
    elif isinstance(result, JobActionsResult):
        _render_actions(console, result)
    elif isinstance(result, ManualRunResult):
        _render_run(console, result)
    elif isinstance(result, SchedulerJobsReloadResult):
        _render_replacement(console, result)
    elif isinstance(result, StoreStatus):
        _render_status(console, result)
    elif isinstance(result, StoreInitResult):
        _render_init(console, result)
    else:
        from whalefall_sched.cli.change_view import render_change

        if not render_change(console, result):  # pragma: no cover - every result is listed
            raise TypeError(f"no renderer for {type(result).__name__}")


def render_error(error: dict[str, Any], output: OutputFormat) -> None:
    """An error object (``WhaleFallSchedError.to_dict()``) as one ``Error:`` line on stderr,
    then one line per problem; with ``-o json`` also :func:`error_document` on stdout."""
    if output is OutputFormat.json:
        print_json(error_document(error))
    err_line(f"Error: {error['message']}")
    problems = error.get("problems", [])
    for problem in problems[:PROBLEM_LINES]:
        err_line(f"  - {problem}")
    if len(problems) > PROBLEM_LINES:
        more = len(problems) - PROBLEM_LINES
        err_line(f"  ... and {more:,} more (-o json lists every problem)")


def note(message: str) -> None:
    """An informational line on stderr (kept off stdout so JSON stays one document),
    cut and made printable."""
    err_line(message)
