"""The selection writes: ``pause`` and ``resume`` of the jobs selected, asking first for
more than a handful."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import typer

from whalefall_sched.cli.app import _guard, _notes, _render, app
from whalefall_sched.cli.confirm import _confirm_selection
from whalefall_sched.cli.options import OutputOption, YesOption
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.selection_options import (
    CONFIRM_ABOVE,
    AllOption,
    MatchOption,
    SelectionArgument,
    SelectStateOption,
    selection_request,
)
from whalefall_sched.cli.terminal import err_line


def _act(
    ctx: click.Context,
    action: str,
    request: Callable[[], dict[str, Any]],
    yes: bool,
    output: OutputFormat,
) -> None:
    """Pause or resume the selected jobs (asking first for more than a handful); render
    the one result and exit with its code."""
    from whalefall_sched.masking import redact
    from whalefall_sched.services.selection import select_jobs

    with _guard(ctx, output) as settings:
        selection = select_jobs(settings.repository(), **request())
        if len(selection.job_ids) > CONFIRM_ABOVE and not yes:
            _confirm_selection(settings, action, selection.job_ids)
        service = settings.actions_service()
        act = service.pause_jobs if action == "pause" else service.resume_jobs
        result = act(selection.ids, selection.failed)
        _render(result, output)
        _notes(result.notes)
        for _, error in result.errors:
            err_line(f"Error: {redact(str(error), settings.url)}")
        if result.exit_code:
            raise typer.Exit(result.exit_code)


@app.command("pause")
def pause_command(
    ctx: typer.Context,
    job_ids: SelectionArgument = None,
    *,
    match: MatchOption = None,
    state: SelectStateOption = None,
    all_: AllOption = False,
    yes: YesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Pause jobs: clear their next run time, as APScheduler's pause_job does.

    Select jobs by id or name, - (ids on stdin), --match, --state or --all; more than
    3 jobs are listed and confirmed first (--yes skips).
    """
    _act(ctx, "pause", lambda: selection_request(ctx, job_ids, match, state, all_), yes, output)


@app.command("resume")
def resume_command(
    ctx: typer.Context,
    job_ids: SelectionArgument = None,
    *,
    match: MatchOption = None,
    state: SelectStateOption = None,
    all_: AllOption = False,
    yes: YesOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Resume jobs: next run time from each job's own trigger, as resume_job does.

    Select jobs by id or name, - (ids on stdin), --match, --state or --all; more than
    3 jobs are listed and confirmed first (--yes skips).
    """
    _act(ctx, "resume", lambda: selection_request(ctx, job_ids, match, state, all_), yes, output)
