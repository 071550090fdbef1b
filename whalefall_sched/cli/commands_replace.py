"""The commands that replace every job at once, all or nothing: ``reload`` (from the
default tasks) and ``restore`` (from a backup), each showing its diff first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from whalefall_sched.cli.app import _guard, _notes, _render, app
from whalefall_sched.cli.confirm import _need_terminal, confirm_on_terminal
from whalefall_sched.cli.options import (
    BackupDirOption,
    DryRunOption,
    NoBackupOption,
    OutputOption,
    VerifyImportsOption,
    YesOption,
    _backup_dir,
    _complete_backup_file,
)
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.terminal import err_line

if TYPE_CHECKING:
    from whalefall_sched.cli.settings import Settings
    from whalefall_sched.services.actions_service import Replacement, SchedulerActionsService
    from whalefall_sched.services.diff import ReplacementResult

#: ``--show-unchanged`` of reload and restore.
ShowUnchangedOption = Annotated[
    bool,
    typer.Option(
        "--show-unchanged",
        help="List the unchanged jobs too (default: their count; -o json lists them).",
    ),
]


@app.command("reload")
def reload_command(
    ctx: typer.Context,
    *,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    backup_dir: BackupDirOption = None,
    no_backup: NoBackupOption = False,
    verify_imports: VerifyImportsOption = True,
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
