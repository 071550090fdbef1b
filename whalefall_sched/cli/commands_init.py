"""``init``: create the job store and register the default jobs; refused when one exists."""

from __future__ import annotations

from typing import Annotated

import typer

from whalefall_sched.cli.app import _guard, _notes, _render, app
from whalefall_sched.cli.options import OutputOption, VerifyImportsOption, dry_run_option
from whalefall_sched.cli.render_types import OutputFormat


@app.command("init")
def init_command(
    ctx: typer.Context,
    *,
    dry_run: Annotated[bool, dry_run_option("Show what would be created and registered")] = False,
    verify_imports: VerifyImportsOption = True,
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
        _render(result, output)
        _notes(result.notes)
