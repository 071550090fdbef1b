"""The options more than one command declares, and the checks behind options.

Each shared option is one ``Annotated`` alias (or, where the help differs per command,
one function building the ``typer.Option``); each check is a Typer callback turning a
bad value into a usage error (exit 2). Nothing heavy is imported here: ``--help`` and
shell completion read these declarations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from whalefall_sched.cli.render_types import COLOR_HELP, OutputFormat
from whalefall_sched.cli.terminal import printable
from whalefall_sched.cli.times import zone_option

if TYPE_CHECKING:
    from whalefall_sched.cli.settings import Settings

#: The longest --timeout and --wait, in seconds (a day).
MAX_SECONDS = 86_400
#: The longest table or schema name, in UTF-8 bytes (PostgreSQL cuts longer ones short).
MAX_NAME_BYTES = 63
#: --reason and --actor's limits (repository/audit.py's, without importing it here).
MAX_REASON_CHARS = 500
MAX_ACTOR_CHARS = 191

# -- checks ------------------------------------------------------------------------------


def _finite(value: float) -> float:
    """Refuse NaN (a range check lets it through)."""
    if math.isnan(value):
        raise typer.BadParameter("nan is not a number of seconds")
    return value


def _finite_or_none(value: float | None) -> float | None:
    """Refuse NaN where no value means no limit."""
    return None if value is None else _finite(value)


def _table_name(value: str) -> str:
    problem = _name_problem(value)
    if problem:
        raise typer.BadParameter(problem)
    return value


def _schema_name(value: str | None) -> str | None:
    """An empty schema is none."""
    if not value:
        return None
    return _table_name(value)


def _name_problem(value: str) -> str | None:
    """Why ``value`` cannot name a table or schema on every backend."""
    if not value:
        return "the name is empty"
    if not value.isprintable():
        return f"{printable(value)!r} holds a control or invisible character"
    if len(value.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes (PostgreSQL's and MariaDB's limit)"
    return None


def _audit_text(limit: int) -> Callable[[str | None], str | None]:
    """A ``--reason`` or ``--actor`` check: at most ``limit`` characters, printable."""

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        from whalefall_sched.services.audit import text_problem

        problem = text_problem(value, limit=limit)
        if problem:
            raise typer.BadParameter(problem)
        return value

    return check


# -- completion --------------------------------------------------------------------------


def _complete_job_id(ctx: click.Context, incomplete: str) -> list[str]:
    """Job ids from the store for TAB completion (see :mod:`.completion`)."""
    from whalefall_sched.cli.completion import complete_job_id

    return complete_job_id(ctx, incomplete)


def _complete_backup_file(ctx: click.Context, incomplete: str) -> list[str]:
    """The store's backup files for ``restore``, newest first (see :mod:`.completion`)."""
    from whalefall_sched.cli.completion import complete_backup_file

    return complete_backup_file(ctx, incomplete)


# -- options shared as they are ------------------------------------------------------------

OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="Output format: a table, or one JSON document."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
JobIdArgument = Annotated[
    str,
    typer.Argument(help="Job id.", show_default=False, autocompletion=_complete_job_id),
]
VerifyImportsOption = Annotated[
    bool,
    typer.Option(
        "--verify-imports/--no-verify-imports",
        help="Check that every task function imports before writing.",
    ),
]
BackupDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Where the rows about to be replaced are saved before anything changes "
        "[default: backups/ beside a SQLite store, else userdata/backups].",
        show_default=False,
    ),
]
NoBackupOption = Annotated[
    bool, typer.Option("--no-backup", help="Do not save the rows about to be replaced.")
]


def _backup_dir(settings: Settings, chosen: Path | None, no_backup: bool) -> Path | None:
    """Where ``--backup-dir`` and ``--no-backup`` say the replaced rows go (None: nowhere)."""
    if no_backup:
        return None
    return chosen or settings.repository().default_backup_dir()


# -- options whose help each command words -------------------------------------------------


def dry_run_option(shows: str) -> Any:
    """``--dry-run``: its help is what the command ``shows`` instead of writing."""
    return typer.Option("--dry-run", help=f"{shows}; change nothing.")


def job_filter_argument(text: str) -> Any:
    """The optional JOB argument of a read that narrows to one job."""
    return typer.Argument(help=text, show_default=False, autocompletion=_complete_job_id)


def tz_option(text: str, *, job: bool) -> Any:
    """``--tz ZONE`` of a drawing or listing; ``job``: whether ``job`` (each job's own
    zone) is taken."""
    return typer.Option(
        "--tz", metavar="ZONE", callback=zone_option(job=job), help=text, show_default=False
    )


def color_option(what: str) -> Any:
    """``--color``: ``what`` it colours, then the one colour rule."""
    return typer.Option("--color", help=f"{what}: {COLOR_HELP}")


DryRunOption = Annotated[bool, dry_run_option("Show what would be deleted and written")]
