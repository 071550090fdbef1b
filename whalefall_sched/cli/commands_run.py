"""The ``run`` command: a job's function run now in a child process, waited for."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import Annotated

import typer

from whalefall_sched.cli.app import _guard, _notes, _render, app
from whalefall_sched.cli.options import MAX_SECONDS, JobIdArgument, OutputOption, _finite_or_none
from whalefall_sched.cli.render_types import OutputFormat


@app.command("run")
def run_command(
    ctx: typer.Context,
    job_id: JobIdArgument,
    *,
    created_by: Annotated[
        int | None,
        typer.Option(help="User id recorded as created_by by the built-in jobs that take it."),
    ] = None,
    app_factory: Annotated[
        str | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_APP_FACTORY",
            help="module:callable building the host app; the job runs in its app context "
            "(default: the tasks file's app_factory).",
            show_default=False,
        ),
    ] = None,
    run_timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.1,
            max=MAX_SECONDS,
            callback=_finite_or_none,
            help="Seconds the job may run; then its process is killed and the run "
            "reported as timed out (exit 6). Default: no limit.",
            show_default=False,
        ),
    ] = None,
    allow_any_function: Annotated[
        bool,
        typer.Option(
            "--allow-any-function",
            help="Run the job even if its function is not one the tasks file lists.",
        ),
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Run a job's function now, in a thread named <id>_manual of a child process, and wait.

    Exit 0 when it returned, 1 when it did not (it raised or ended its process),
    6 when it timed out.
    """
    from whalefall_sched.cli.render import note
    from whalefall_sched.masking import redact

    def started(thread_name: str, pid: int) -> None:
        note(f"started {thread_name} (pid {pid})")

    with _guard(ctx, output) as settings:
        service = settings.actions_service(app_factory=app_factory)
        # What the task prints goes to stderr: stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            result = service.run_job(
                job_id,
                created_by,
                timeout=run_timeout,
                allow_any_function=allow_any_function,
                on_start=started,
            )
        if result.error:
            result = dataclasses.replace(result, error=redact(result.error, settings.url))
        _render(result, output)
        _notes(result.notes)
        if result.exit_code:
            raise typer.Exit(result.exit_code)
