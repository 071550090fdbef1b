"""The ``timeline`` command: every job's fire times ahead, drawn (read-only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import click
import typer

from whalefall_sched.cli.app import _guard, app
from whalefall_sched.cli.options import OutputOption, color_option, tz_option
from whalefall_sched.cli.render_types import ColorMode, OutputFormat
from whalefall_sched.cli.times import local_zone, parse_zone

#: The longest window: 31 days (``--days 31``, ``--hours 744``).
MAX_DAYS = 31


@app.command("timeline")
def timeline_command(
    ctx: typer.Context,
    *,
    hours: Annotated[
        int | None,
        typer.Option(
            "--hours",
            min=1,
            max=MAX_DAYS * 24,
            metavar="H",
            help=f"Draw the next H hours, 1 to {MAX_DAYS * 24} (default: 24).",
            show_default=False,
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            max=MAX_DAYS,
            metavar="D",
            help=f"Draw the next D days, 1 to {MAX_DAYS}; not with --hours.",
            show_default=False,
        ),
    ] = None,
    tz: Annotated[
        str | None,
        tz_option(
            "Time zone of the axis and the times shown: an IANA name "
            "(Asia/Shanghai), UTC, or local (the default).",
            job=False,
        ),
    ] = None,
    width: Annotated[
        int | None,
        typer.Option(
            "--width",
            min=40,
            max=1000,
            metavar="COLS",
            help="Draw COLS columns wide (default: the terminal's width; 100 when "
            "stdout is not a terminal).",
            show_default=False,
        ),
    ] = None,
    color: Annotated[ColorMode, color_option("Colour the picture")] = ColorMode.auto,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Draw every job's fire times ahead: one lane per job (read-only).

    Jobs that fire in the same minute are highlighted and listed; paused jobs are
    greyed (the times they would fire if resumed); unreadable jobs are listed as
    skipped. -o json gives every fire time and every same-minute collision.
    """
    if hours is not None and days is not None:
        raise click.UsageError("--hours and --days cannot be used together", ctx)
    zone = parse_zone(tz, job=False) if tz is not None else local_zone()
    assert zone.tz is not None
    span = timedelta(hours=hours) if hours is not None else timedelta(days=days or 1)
    with _guard(ctx, output) as settings:
        from whalefall_sched.cli.timeline_view import render_timeline

        timeline = settings.read_service().timeline(span=span, zone=zone.tz, zone_name=zone.label)
        render_timeline(timeline, output, width=width, color=color)
