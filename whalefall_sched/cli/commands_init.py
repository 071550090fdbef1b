"""``init``: create the job store and register the default jobs; refused when one exists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from whalefall_sched.cli.app import OutputOption, _guard, _notes, app
from whalefall_sched.cli.render_types import OutputFormat

if TYPE_CHECKING:
    from whalefall_sched.services.init_store import StoreInitResult


@app.command("init")
def init_command(
    ctx: typer.Context,
    *,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be created and registered; change nothing."
        ),
    ] = False,
    verify_imports: Annotated[
        bool,
        typer.Option(
            "--verify-imports/--no-verify-imports",
            help="Check that every task function imports before writing.",
        ),
    ] = True,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create the job store and register the default tasks, as reload writes them.

    Creates the SQLite file and its directory, or the table on PostgreSQL
    and MariaDB, as stock APScheduler does. Refused (exit 4, nothing
    changed) when the job table exists, even empty: use reload there.
    """
    with _guard(ctx, output) as settings:
        result = settings.actions_service().init_store(
            dry_run=dry_run, verify_imports=verify_imports
        )
        if output is OutputFormat.json:
            from whalefall_sched.cli.render import print_json

            print_json(result.to_dict())
        else:
            _render_init(result)
        _notes(result.notes)


def _render_init(result: StoreInitResult) -> None:
    """What was created and registered, as two tables (what would be, in a dry run)."""
    from whalefall_sched.cli.render import _console, _escape, _table

    console = _console()
    created = [("directory", d) for d in result.directories]
    if result.file is not None:
        created.append(("file", result.file))
    created.append(("table", result.table))
    title = "Would create" if result.dry_run else "Created"
    table = _table("WHAT", "WHERE", title=f"{title}: {_escape(result.store)}")
    for what, where in created:
        table.add_row(what, _escape(where))
    console.print(table)
    verb = "Would register" if result.dry_run else "Registered"
    jobs = _table("ID", title=f"{verb} ({len(result.registered)})")
    for job_id in result.registered:
        jobs.add_row(_escape(job_id))
    console.print(jobs)
    if result.dry_run:
        console.print("Dry run: nothing changed.", style="dim")
