"""The options that select jobs, one set for every command that takes several ids
(``pause``, ``resume``; later ``delete``): ids or names, ``-`` for ids on stdin,
``--match GLOB``, ``--state running|paused``, ``--all``.

A command adopts them with four parameters and one call::

    job_ids: SelectionArgument = None,
    *,
    match: MatchOption = None,
    state: SelectStateOption = None,
    all_: AllOption = False,
    ...
    request = selection_request(ctx, job_ids, match, state, all_)

and passes ``request`` to ``services.selection.select_jobs``. Reading ``-`` and the
usage errors belong here; which jobs match is the service's.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated, Any

import click
import typer

from whalefall_sched.cli.options import _complete_job_id

#: A write of more jobs than this asks first (``--yes`` skips; no terminal: refused).
CONFIRM_ABOVE = 3
#: The most ``-`` reads from stdin, in bytes (about 100,000 ids of 40 characters).
MAX_STDIN_BYTES = 4 * 1024 * 1024
#: The stdin marker among the ids.
STDIN = "-"


class SelectState(StrEnum):
    """``--state`` of a selection (an unreadable row is in neither)."""

    running = "running"
    paused = "paused"


SelectionArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Job ids (or exact names); - reads ids from stdin, one a line.",
        show_default=False,
        autocompletion=_complete_job_id,
    ),
]
MatchOption = Annotated[
    list[str] | None,
    typer.Option(
        "--match",
        metavar="GLOB",
        help="Every job whose id matches this shell pattern (case-sensitive; quote it: "
        "'sync_*'). Repeatable; added to the ids given.",
        show_default=False,
    ),
]
SelectStateOption = Annotated[
    SelectState | None,
    typer.Option(
        "--state",
        help="Only the jobs in this state; alone, every job in it. Unreadable rows are in neither.",
        show_default=False,
    ),
]
AllOption = Annotated[
    bool, typer.Option("--all", help="Every job (not with ids or --match).", show_default=False)
]


def selection_request(
    ctx: click.Context,
    job_ids: list[str] | None,
    match: list[str] | None,
    state: SelectState | None,
    all_: bool,
) -> dict[str, Any]:
    """The keyword arguments of ``select_jobs`` for this command line, ``-`` read from
    stdin. Usage errors (exit 2): ``--all`` with ids or ``--match``, nothing selected,
    ``-`` on a terminal or past :data:`MAX_STDIN_BYTES`."""
    given = list(job_ids or [])
    patterns = list(match or [])
    if all_ and (given or patterns):
        raise click.UsageError("--all selects every job: give no ids or --match with it", ctx)
    if not (given or patterns or all_ or state is not None):
        raise click.UsageError(
            "Missing argument 'JOB_IDS...': give ids, - (ids on stdin), --match, --state or --all",
            ctx,
        )
    stdin_ids = read_stdin_ids(ctx) if STDIN in given else None
    return {
        "ids": [job_id for job_id in given if job_id != STDIN],
        "patterns": patterns,
        "state": None if state is None else state.value,
        "all_": all_,
        "stdin_ids": stdin_ids,
    }


def read_stdin_ids(ctx: click.Context) -> list[str]:
    """The ids on stdin, one a line: blank lines skipped, whitespace around each dropped.

    Bytes that are not UTF-8 become lone surrogates, as a command-line argument's do
    (such an id then names no job, and says why).
    """
    stream = sys.stdin
    if stream is None or stream.closed:
        return []
    if stream.isatty():
        raise click.UsageError(
            "- reads ids from stdin, which is a terminal: pipe them in "
            "(whalefall-sched list -o name ... | whalefall-sched pause -)",
            ctx,
        )
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        data = buffer.read(MAX_STDIN_BYTES + 1)
    else:
        data = stream.read(MAX_STDIN_BYTES + 1).encode("utf-8", "surrogateescape")
    if len(data) > MAX_STDIN_BYTES:
        raise click.UsageError(
            f"- read more than {MAX_STDIN_BYTES:,} bytes of ids from stdin (the limit)", ctx
        )
    text = data.decode("utf-8", "surrogateescape")
    return [line.strip() for line in text.split("\n") if line.strip()]
