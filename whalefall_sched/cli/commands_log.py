"""``log``: the audit trail, newest first (read-only)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from whalefall_sched.cli.app import _guard, _notes, _render, app
from whalefall_sched.cli.options import OutputOption, job_filter_argument
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.terminal import cell_width, err_line, field, fit, pad, write_lines

if TYPE_CHECKING:
    from whalefall_sched.services.audit import AuditEvent

#: The widest JOBS and REASON cells, in terminal cells (cut with ``…``).
JOBS_CELLS = 40
REASON_CELLS = 60
_HEADINGS = ("WHEN", "ACTOR", "COMMAND", "JOBS", "OUTCOME", "REASON")


def _since(value: str | None) -> str | None:
    """``--since``: a usage error for what :func:`parse_since` does not take."""
    if value is None:
        return None
    from whalefall_sched.errors import InvalidInputError
    from whalefall_sched.services.audit import parse_since

    try:
        parse_since(value)
    except InvalidInputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return value


@app.command("log")
def log_command(
    ctx: typer.Context,
    job_id: Annotated[str | None, job_filter_argument("Only the events of this job id.")] = None,
    *,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            callback=_since,
            help="Only events since then: a span ago (30m, 24h, 7d, 2w) or an ISO 8601 "
            "time (UTC without an offset).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="Show at most N events.")
    ] = 50,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show the audit trail: who changed which jobs, when, why, and what changed,
    newest first (read-only; a store no write has been recorded in has none)."""
    from whalefall_sched.services.audit import audit_log, parse_since

    with _guard(ctx, output) as settings:
        result = audit_log(
            settings.repository(),
            job_id=job_id,
            since=parse_since(since) if since is not None else None,
            limit=limit,
        )
        if output is OutputFormat.json:
            _render(result, output)
        elif result.events:
            write_lines(_table(result.events))
        else:
            err_line("No events.")
        _notes(result.notes)


def _table(events: list[AuditEvent]) -> list[str]:
    """The events as a plain table: WHEN in the local zone, JOBS and REASON cut."""
    from whalefall_sched.cli.times import local_zone

    zone = local_zone().tz
    rows = [
        [
            f"{datetime.fromisoformat(e.at).astimezone(zone):%Y-%m-%d %H:%M:%S}",
            field(e.actor),
            field(e.command),
            fit(field(", ".join(e.id) or "-"), JOBS_CELLS),
            field(e.outcome),
            fit(field(e.reason or "-"), REASON_CELLS),
        ]
        for e in events
    ]
    widths = [
        max(cell_width(h), *(cell_width(r[i]) for r in rows)) for i, h in enumerate(_HEADINGS)
    ]
    lines = [list(_HEADINGS), *rows]
    return [
        "  ".join(pad(cell, widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
        for row in lines
    ]
