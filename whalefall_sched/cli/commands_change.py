"""The commands that change a job's schedule or remove jobs: ``reschedule``, ``delete``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import click
import typer

from whalefall_sched.cli.app import _guard, _notes, _render, app
from whalefall_sched.cli.options import (
    BackupDirOption,
    NoBackupOption,
    OutputOption,
    YesOption,
    _complete_job_id,
)
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.selection_options import (
    AllOption,
    MatchOption,
    SelectionArgument,
    SelectStateOption,
    selection_request,
)
from whalefall_sched.cli.terminal import err_line
from whalefall_sched.cli.times import zone_option

if TYPE_CHECKING:
    pass


@app.command("reschedule")
def reschedule_command(
    ctx: typer.Context,
    job_id: Annotated[
        str,
        typer.Argument(
            help="Job id (or its exact name).", show_default=False, autocompletion=_complete_job_id
        ),
    ],
    cron: Annotated[
        str | None,
        typer.Argument(
            help="A cron expression as one argument, as the host's PUT takes it: 5 fields "
            "(minute hour day month day_of_week), 6 (second first) or 7 (second first, "
            "year last).",
            show_default=False,
        ),
    ] = None,
    *,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            help="Fire every DURATION instead: 90s, 15m, 2h, 1d, 1w or a sum such as 1h30m "
            "(a bare number is seconds).",
            show_default=False,
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Fire once at this ISO 8601 time instead (without an offset: in the zone).",
            show_default=False,
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            callback=zone_option(job=False),
            help="Zone of the new trigger: an IANA name or 'local' "
            "[default: the job's current trigger zone].",
            show_default=False,
        ),
    ] = None,
    keep_paused: Annotated[
        bool,
        typer.Option("--keep-paused", help="Leave a paused job paused (default: it resumes)."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show the next 5 fire times before and after; change nothing."
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Reschedule a job that is not built-in (the host forbids it)."
        ),
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Give a job a new trigger, as the host's PUT /jobs/<id> and reschedule_job do.

    The next run time is computed from the new trigger, which also resumes a paused job
    (unless --keep-paused). Exactly one of CRON, --interval or --date.
    """
    from whalefall_sched.cli.times import parse_zone
    from whalefall_sched.services.trigger_spec import TriggerSpec

    given = [(k, v) for k, v in (("cron", cron), ("interval", interval), ("date", date)) if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of CRON, --interval or --date", ctx=ctx)
    kind, text = given[0]
    spec = TriggerSpec(kind, text)  # type: ignore[arg-type]
    with _guard(ctx, output) as settings:
        zone = parse_zone(tz, job=False).tz if tz is not None else None
        result = settings.job_changes_service().reschedule_job(
            job_id, spec, zone=zone, keep_paused=keep_paused, dry_run=dry_run, force=force
        )
        _render(result, output)
        _notes(result.notes)


@app.command("delete")
def delete_command(
    ctx: typer.Context,
    job_ids: SelectionArgument = None,
    *,
    match: MatchOption = None,
    state: SelectStateOption = None,
    all_: AllOption = False,
    yes: YesOption = False,
    backup_dir: BackupDirOption = None,
    no_backup: NoBackupOption = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Remove jobs, as the host's DELETE /jobs/<id> does; every row is backed up first.

    Select jobs by id or name, - (ids on stdin), --match, --state or --all. A job a
    running scheduler is about to rewrite is deleted only once it has moved it on.
    `restore BACKUP` puts back every job of the backup.
    """
    from whalefall_sched.cli.confirm import confirm_on_terminal
    from whalefall_sched.cli.options import _backup_dir
    from whalefall_sched.masking import redact
    from whalefall_sched.services.job_delete import JobDeleteOutcome
    from whalefall_sched.services.selection import select_jobs

    with _guard(ctx, output) as settings:
        service = settings.job_changes_service()
        request = selection_request(ctx, job_ids, match, state, all_)
        selection = select_jobs(settings.repository(), **request)
        by_given = {o.given: o for o in service.resolve_ids(selection.job_ids)}
        resolved = [
            JobDeleteOutcome(given, error=selection.failed[given])
            if given in selection.failed
            else by_given[given]
            for given in dict.fromkeys(selection.ids)
        ]
        found = list(dict.fromkeys(o.id for o in resolved if o.error is None and o.id))
        if found and not yes:
            where = settings.repository().where
            shown = ", ".join(found[:10]) + (
                f" and {len(found) - 10} more" if len(found) > 10 else ""
            )
            confirm_on_terminal(
                f"Delete {len(found)} job(s) in {where} ({shown})?", "delete", "removes jobs"
            )
        result = service.delete_jobs(
            resolved, backup_dir=_backup_dir(settings, backup_dir, no_backup)
        )
        _render(result, output)
        _notes(result.notes)
        for _, error in result.errors:
            err_line(f"Error: {redact(str(error), settings.url)}")
        if result.exit_code:
            raise typer.Exit(result.exit_code)
