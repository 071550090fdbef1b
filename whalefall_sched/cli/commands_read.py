"""The reading commands: ``list``, ``get``, ``status`` (read-only)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from whalefall_sched.cli.app import _guard, _notes, _render, app
from whalefall_sched.cli.options import JobIdArgument, OutputOption, color_option, tz_option
from whalefall_sched.cli.render_types import ColorMode, ListOutput, OutputFormat
from whalefall_sched.cli.terminal import err_line


class StateFilter(StrEnum):
    """``list --state``."""

    running = "running"
    paused = "paused"
    unreadable = "unreadable"


@app.command("list")
def list_command(
    ctx: typer.Context,
    *,
    state: Annotated[
        StateFilter | None, typer.Option("--state", help="Only jobs in this state.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=0, help="Show at most N jobs.", metavar="N", show_default=False
        ),
    ] = None,
    offset: Annotated[
        int, typer.Option("--offset", min=0, help="Skip the first N jobs.", metavar="N")
    ] = 0,
    output: Annotated[
        ListOutput,
        typer.Option(
            "--output",
            "-o",
            help="table (one row per job, fitted to the terminal), wide (every column), "
            "name (ids only), tsv (tab-separated, escaped), or json.",
        ),
    ] = ListOutput.table,
    no_headers: Annotated[
        bool, typer.Option("--no-headers", help="No header line (table, wide, tsv).")
    ] = False,
    tz: Annotated[
        str | None,
        tz_option(
            "Time zone of NEXT: an IANA name (UTC, Asia/Shanghai), 'local' (the "
            "default), or 'job' (each job's trigger's own zone).",
            job=True,
        ),
    ] = None,
    color: Annotated[ColorMode, color_option("Colour STATE and the header")] = ColorMode.auto,
) -> None:
    """List every job, sorted by id, one row each (read-only)."""
    from whalefall_sched.services.dto import (
        STATE_PAUSED,
        STATE_RUNNING,
        STATE_UNREADABLE,
    )

    wanted = (
        {
            StateFilter.running: STATE_RUNNING,
            StateFilter.paused: STATE_PAUSED,
            StateFilter.unreadable: STATE_UNREADABLE,
        }.get(state)
        if state
        else None
    )
    with _guard(ctx, output.error_format) as settings:
        items = settings.read_service().list_jobs(state=wanted, limit=limit, offset=offset)
        if output is ListOutput.json:
            from whalefall_sched.cli.json_output import JobList

            _render(JobList(items), OutputFormat.json)
            return
        from whalefall_sched.cli.list_view import ListOptions, render_list
        from whalefall_sched.cli.times import parse_zone

        options = ListOptions(
            output=output,
            zone=parse_zone(tz) if tz is not None else None,
            headers=not no_headers,
            color=color,
        )
        render_list(items, options)


@app.command("get")
def get_command(
    ctx: typer.Context,
    job_id: JobIdArgument,
    *,
    next_count: Annotated[
        int | None,
        typer.Option(
            "--next",
            min=1,
            max=1000,
            metavar="N",
            help="Also list the job's next N fire times (1 to 1000), computed from its "
            "trigger; a paused job's are the times it would fire if resumed.",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show one job (read-only)."""
    with _guard(ctx, output) as settings:
        if next_count is None:
            _render(settings.read_service().get_job(job_id), output)
            return
        from whalefall_sched.cli.fire_times_view import render_next_fire_times

        render_next_fire_times(
            settings.read_service().get_job_fire_times(job_id, next_count), output
        )


@app.command("status")
def status_command(ctx: typer.Context, *, output: OutputOption = OutputFormat.table) -> None:
    """Is the store reachable and initialised, is a scheduler processing it (read-only).

    Exit 0 healthy, 4 degraded (each reason listed), 5 unreachable.
    """
    with _guard(ctx, output) as settings:
        status = settings.read_service().status()
        _render(status, output)
        _notes(status.notes)
        if status.error is not None:
            # the one-line error of every failure; with -o json the status stays the
            # only document on stdout
            err_line(f"Error: {status.error['message']}")
        if status.exit_code:
            raise typer.Exit(status.exit_code)
