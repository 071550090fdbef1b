"""The writing commands: ``pause``, ``resume``, ``run``, ``reload``, ``restore``."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.settings import (
    Settings,
)
from whalefall_sched.cli.terminal import (
    err_line,
    printable,
)

if TYPE_CHECKING:
    from whalefall_sched.services.actions_service import Replacement, SchedulerActionsService
    from whalefall_sched.services.diff import ReplacementResult
from whalefall_sched.cli.app import (
    MAX_SECONDS,
    BackupDirOption,
    DryRunOption,
    NoBackupOption,
    OutputOption,
    YesOption,
    _complete_backup_file,
    _complete_job_id,
    _finite_or_none,
    _guard,
    _notes,
    _render,
    app,
)
from whalefall_sched.cli.selection_options import (
    CONFIRM_ABOVE,
    AllOption,
    MatchOption,
    SelectionArgument,
    SelectStateOption,
    selection_request,
)

#: ``--show-unchanged`` of reload and restore.
ShowUnchangedOption = Annotated[
    bool,
    typer.Option(
        "--show-unchanged",
        help="List the unchanged jobs too (default: their count; -o json lists them).",
    ),
]

# -- acting ------------------------------------------------------------------------------


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


#: The most ids the confirmation lists; the rest are counted.
CONFIRM_LISTS = 200


def _confirm_selection(settings: Settings, action: str, job_ids: list[str]) -> None:
    """List the ids and ask before writing them; refuse (exit 4) where there is no
    terminal to ask on, as ``reload`` does."""
    from whalefall_sched.errors import StoreConflictError

    count = len(job_ids)
    if not _can_ask():
        raise StoreConflictError(
            f"{action} of {count} jobs needs confirmation; no terminal to ask on, "
            "so nothing was changed (pass --yes)"
        )
    where = settings.repository().where
    err_line(f"about to {action} {count} jobs in {where}:")
    for job_id in job_ids[:CONFIRM_LISTS]:
        err_line(f"  {printable(job_id)}")
    if count > CONFIRM_LISTS:
        err_line(f"  ... and {count - CONFIRM_LISTS} more")
    if not typer.confirm(printable(f"{action.capitalize()} these {count} jobs?"), err=True):
        raise StoreConflictError(f"{action} not confirmed; nothing was changed")


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


@app.command("run")
def run_command(
    ctx: typer.Context,
    job_id: Annotated[
        str,
        typer.Argument(help="Job id.", show_default=False, autocompletion=_complete_job_id),
    ],
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


@app.command("reload")
def reload_command(
    ctx: typer.Context,
    *,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    backup_dir: BackupDirOption = None,
    no_backup: NoBackupOption = False,
    verify_imports: Annotated[
        bool,
        typer.Option(
            "--verify-imports/--no-verify-imports",
            help="Check that every task function imports before writing.",
        ),
    ] = True,
    keep_paused: Annotated[
        bool,
        typer.Option(
            "--keep-paused",
            help="Keep the jobs that are paused now paused (default: every job is "
            "registered running, as the host app's reload does).",
        ),
    ] = False,
    show_unchanged: ShowUnchangedOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Replace every job by the enabled default tasks, all or nothing; shows the diff.

    The diff (--dry-run, the prompt, the report) lists each job added, removed (and
    why), changed (each field old -> new) or unchanged, and paused jobs that resume.
    """
    with _guard(ctx, output) as settings:
        service = settings.actions_service()
        plan = service.plan_reload(verify_imports=verify_imports, keep_paused=keep_paused)
        _replace(
            settings,
            service,
            plan,
            yes=yes,
            dry_run=dry_run,
            backup_dir=backup_dir,
            no_backup=no_backup,
            output=output,
            show_unchanged=show_unchanged,
        )


def _backup_dir(settings: Settings, chosen: Path | None, no_backup: bool) -> Path | None:
    if no_backup:
        return None
    return chosen or settings.repository().default_backup_dir()


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    backup: Annotated[
        Path,
        typer.Argument(
            help="A backup file written by reload (under userdata/backups/).",
            show_default=False,
            autocompletion=_complete_backup_file,
        ),
    ],
    *,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    backup_dir: BackupDirOption = None,
    no_backup: NoBackupOption = False,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Restore a backup with no rows (deletes every job)."),
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Leave out rows that do not decode safely or disagree with themselves, "
            "and restore the others.",
        ),
    ] = False,
    show_unchanged: ShowUnchangedOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Put back the rows a reload removed, byte for byte: all or nothing.

    Every row is checked first as the careful reader checks the store (it must decode
    safely and agree with itself); a backup with a row that does not is refused. Each
    job keeps the backup's state: a job paused in the backup is restored paused.
    """
    with _guard(ctx, output) as settings:
        service = settings.actions_service()
        plan = service.plan_restore(backup, allow_empty=allow_empty, skip_invalid=skip_invalid)
        _replace(
            settings,
            service,
            plan,
            yes=yes,
            dry_run=dry_run,
            backup_dir=backup_dir,
            no_backup=no_backup,
            output=output,
            show_unchanged=show_unchanged,
        )


def _replace(
    settings: Settings,
    service: SchedulerActionsService,
    plan: Replacement,
    *,
    yes: bool,
    dry_run: bool,
    backup_dir: Path | None,
    no_backup: bool,
    output: OutputFormat,
    show_unchanged: bool = False,
) -> None:
    """The body of reload and restore: preview (the diff), confirm, replace, report."""
    # A store that does not exist is an error (naming the path, suggesting init), the
    # dry run's too: a misspelt URL must never become a new, empty store.
    settings.repository().require_store()
    if dry_run or not yes:
        preview = service.preview(plan)
        if dry_run:
            _render_diff(preview, output, show_unchanged)
            return
        _confirm(settings, preview, plan.origin, show_unchanged)
    result = service.apply(plan, backup_dir=_backup_dir(settings, backup_dir, no_backup))
    _render_diff(result, output, show_unchanged)
    _notes(result.notes)


def _render_diff(result: ReplacementResult, output: OutputFormat, show_unchanged: bool) -> None:
    if output is OutputFormat.json:
        _render(result, output)
        return
    from whalefall_sched.cli.diff_view import render_replacement

    render_replacement(result, show_unchanged=show_unchanged)


def _confirm(
    settings: Settings, preview: ReplacementResult, origin: str, show_unchanged: bool
) -> None:
    """Show the diff and ask before replacing every job; refuse (exit 4) where there is
    no terminal to ask on."""
    from whalefall_sched.cli.diff_view import diff_lines

    action = "reload" if preview.restored_from is None else "restore"
    what = "replaces every job"
    _need_terminal(action, what, "; --dry-run shows the diff")
    for text in diff_lines(preview.diff, show_unchanged=show_unchanged):
        err_line(text)
    where = settings.repository().where
    err_line(f"{action.capitalize()} {where} from {origin}:")
    confirm_on_terminal(f"{preview.diff.summary}. Proceed?", action, what)


def confirm_on_terminal(question: str, action: str, what: str) -> None:
    """Ask ``question`` on the terminal; refuse (exit 4, nothing changed) where there is
    no terminal to ask on, or when the answer is no. ``what`` says why ``action`` asks."""
    from whalefall_sched.errors import StoreConflictError

    _need_terminal(action, what)
    if not typer.confirm(printable(question), err=True):
        raise StoreConflictError(f"{action} not confirmed; nothing was changed")


def _need_terminal(action: str, what: str, hint: str = "") -> None:
    """Refuse (exit 4, nothing changed) where there is no terminal to ask on."""
    from whalefall_sched.errors import StoreConflictError

    if not _can_ask():
        raise StoreConflictError(
            f"{action} {what} and needs confirmation; no terminal to ask on, "
            f"so nothing was changed (pass --yes{hint})"
        )


def _can_ask() -> bool:
    """Whether there is a terminal to ask for confirmation on (stdin)."""
    return not (sys.stdin is None or sys.stdin.closed or not sys.stdin.isatty())
