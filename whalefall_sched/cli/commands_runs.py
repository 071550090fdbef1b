"""``runs``: the run history (read-only): ``runs [JOB]`` lists, ``runs show RUN_ID`` shows one."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from whalefall_sched.cli.app import _guard, app
from whalefall_sched.cli.options import OutputOption, job_filter_argument
from whalefall_sched.cli.render_types import OutputFormat

#: ``runs show RUN_ID``: the word that makes the first argument a subcommand.
SHOW = "show"


class RunStatus(StrEnum):
    """``runs --status``: the host's ``TaskRunStatus`` values and the tool's ``missed``."""

    pending = "pending"
    running = "running"
    completed = "completed"
    completed_with_errors = "completed_with_errors"
    failed = "failed"
    cancelled = "cancelled"
    missed = "missed"


@app.command("runs")
def runs_command(
    ctx: typer.Context,
    job: Annotated[
        str | None,
        job_filter_argument("Only this job's runs. `runs show RUN_ID` shows one run instead."),
    ] = None,
    run_id: Annotated[
        str | None, typer.Argument(hidden=True, show_default=False, metavar="RUN_ID")
    ] = None,
    *,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, metavar="N", help="Show at most N runs.")
    ] = 20,
    status: Annotated[
        RunStatus | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Only runs with this status: pending, running, completed, "
            "completed_with_errors, failed, cancelled or missed.",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List runs, newest first, or show one with its items (read-only).

    The history is the host's task_runs table at --history-url, else the tool's own
    table in the job store's database (written by the host integration record_runs and
    by `run`). Exit 4 when neither exists, 3 for an unknown run id.
    """
    if run_id is not None and job != SHOW:
        raise typer.BadParameter(
            f"got an extra argument {run_id!r}: give one JOB, or `show RUN_ID`",
            param_hint="JOB",
        )
    with _guard(ctx, output) as settings:
        from whalefall_sched.cli.json_output import _envelope, print_json

        history = settings.history()
        if run_id is not None:
            detail = history.get_run(run_id)
            if output is OutputFormat.json:
                print_json(_envelope(**detail.to_dict()))
                return
            from whalefall_sched.cli.runs_view import render_run

            render_run(detail)
            return
        result = history.list_runs(job, status=status.value if status else None, limit=limit)
        if output is OutputFormat.json:
            print_json(_envelope(**result.to_dict()))
            return
        from whalefall_sched.cli.runs_view import render_runs

        render_runs(result)
