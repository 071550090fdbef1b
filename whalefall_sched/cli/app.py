"""The ``whalefall-sched`` command line: options, rendering and exit codes only.

Heavy modules (SQLAlchemy, APScheduler, Rich) are imported by the commands that need
them, so ``--help`` and shell completion stay fast.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from typer.core import TyperCommand
from typer.models import CommandFunctionType

from whalefall_sched import __version__
from whalefall_sched.cli.group import (
    PROG,
    _Command,
    _OneLineErrors,
)
from whalefall_sched.cli.logs import _configure_logging, _print_traceback
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.settings import (
    DEFAULT_TABLE,
    DEFAULT_URL,
    Settings,
)
from whalefall_sched.cli.terminal import (
    OutputError,
    printable,
)
from whalefall_sched.errors import (
    InternalError,
    WhaleFallSchedError,
)

if TYPE_CHECKING:
    pass


class _Typer(typer.Typer):
    """Every command, present and future, is a :class:`_Command`: its help shows the global
    options and its examples."""

    def command(
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        """Typer's ``command``, the command class defaulting to :class:`_Command`."""
        return super().command(name, cls=cls or _Command, **kwargs)


app = _Typer(
    name=PROG,
    cls=_OneLineErrors,
    help=(
        "Operate an APScheduler 3 job store from a shell: list, get, pause, resume, run "
        "and reload jobs straight on the store. Reads never write."
    ),
    # plain Click help: it does not import Rich, and it wraps long words whole
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class StateFilter(StrEnum):
    """``list --state``."""

    running = "running"
    paused = "paused"
    unreadable = "unreadable"


#: The longest --timeout and --wait, in seconds (a day).
MAX_SECONDS = 86_400
#: The longest table or schema name, in UTF-8 bytes (PostgreSQL cuts longer ones short).
MAX_NAME_BYTES = 63


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


#: --reason and --actor's limits (repository/audit.py's, without importing it here).
MAX_REASON_CHARS = 500
MAX_ACTOR_CHARS = 191


def _version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


def _settings_from(ctx: click.Context) -> Settings:
    """The settings of this invocation (also during completion, when no callback ran)."""
    root = ctx.find_root()
    if isinstance(root.obj, Settings):
        return root.obj
    params = root.params
    return Settings(
        url=params.get("url") or DEFAULT_URL,
        table=params.get("table") or DEFAULT_TABLE,
        schema=params.get("schema"),
        tasks_path=params.get("tasks"),
        config_path=params.get("config"),
        app_paths=_split_paths(params.get("app_path")),
    )


def _split_paths(values: list[str] | None) -> list[str]:
    paths: list[str] = []
    for value in values or []:
        paths.extend(p for p in value.split(os.pathsep) if p)
    return paths


def _complete_job_id(ctx: click.Context, incomplete: str) -> list[str]:
    """Job ids from the store for TAB completion (see :mod:`.completion`)."""
    from whalefall_sched.cli.completion import complete_job_id

    return complete_job_id(ctx, incomplete)


def _complete_backup_file(ctx: click.Context, incomplete: str) -> list[str]:
    """The store's backup files for ``restore``, newest first (see :mod:`.completion`)."""
    from whalefall_sched.cli.completion import complete_backup_file

    return complete_backup_file(ctx, incomplete)


OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="Output format: a table, or one JSON document."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Show what would be deleted and written; change nothing."),
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
JobIdsArgument = Annotated[
    list[str],
    typer.Argument(help="Job id(s).", show_default=False, autocompletion=_complete_job_id),
]


@app.callback()
def main_options(
    ctx: typer.Context,
    *,
    url: Annotated[
        str,
        typer.Option(
            envvar="WHALEFALL_SCHED_URL",
            help="SQLAlchemy URL of the job store (SQLite path relative to the working directory).",
        ),
    ] = DEFAULT_URL,
    table: Annotated[
        str,
        typer.Option(envvar="WHALEFALL_SCHED_TABLE", callback=_table_name, help="Job table name."),
    ] = DEFAULT_TABLE,
    schema: Annotated[
        str | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_SCHEMA",
            callback=_schema_name,
            help="Schema of the job table.",
        ),
    ] = None,
    history_url: Annotated[
        str | None,
        typer.Option(
            "--history-url",
            envvar="WHALEFALL_SCHED_HISTORY_URL",
            help="SQLAlchemy URL of the application's database holding the host's "
            "task_runs table (run history for `runs`, LAST and last_run_time; read-only). "
            "Without it: the tool's own run table in the job store's database.",
            show_default=False,
        ),
    ] = None,
    tasks: Annotated[
        Path | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_TASKS",
            help="Default-task YAML file (default: the 2026-07 host's own when --app-path "
            "is its checkout, else the example bundled in the package).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_CONFIG",
            help="YAML of whalefall-sched's own keys (functions, timezone, builtin_ids, "
            "manual_kwargs_ids, app_factory, job_defaults, host_generation) overriding the "
            "tasks file's, "
            "so the host's tasks file can be used unchanged.",
            show_default=False,
        ),
    ] = None,
    app_path: Annotated[
        list[str] | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_APP_PATH",
            help=f"Directory put on sys.path so the host app's task modules import "
            f"(repeatable; the variable takes a '{os.pathsep}'-separated list); a WhaleFall "
            "checkout with app/core/constants/scheduler_jobs.py makes the host a 2026-07 one.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            envvar="WHALEFALL_SCHED_TIMEOUT",
            min=0.1,
            max=MAX_SECONDS,
            callback=_finite,
            help="Seconds to wait to connect to the store (or for a SQLite lock).",
        ),
    ] = 5.0,
    wait: Annotated[
        float,
        typer.Option(
            envvar="WHALEFALL_SCHED_WAIT",
            min=0,
            max=MAX_SECONDS,
            callback=_finite,
            help="Longest wait, in seconds, for a running scheduler to move a due job on "
            "before pause/resume/reload rewrite it.",
        ),
    ] = 10.0,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="TEXT",
            callback=_audit_text(MAX_REASON_CHARS),
            help=f"Why: recorded with the event of every write (pause, resume, run, reload, "
            f"restore, init) in the audit trail `log` shows; at most {MAX_REASON_CHARS} "
            "printable characters.",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            metavar="NAME",
            envvar="WHALEFALL_SCHED_ACTOR",
            callback=_audit_text(MAX_ACTOR_CHARS),
            help="Who: recorded with the event of every write [default: <OS user>@<host>].",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Global options: before or after the command (given on both sides, the one after
    wins)."""
    ctx.obj = Settings(
        url=url,
        table=table,
        schema=schema or None,
        tasks_path=tasks,
        config_path=config,
        app_paths=_split_paths(app_path),
        timeout=timeout,
        wait=wait,
        debug=debug,
        history_url=history_url or None,
        reason=reason,
        actor=actor,
    )
    _configure_logging(debug, url)


@contextmanager
def _guard(ctx: click.Context, output: OutputFormat) -> Iterator[Settings]:
    """Run a command: core errors become one line and their exit code."""
    from whalefall_sched.cli.render import render_error

    settings = _settings_from(ctx)
    try:
        _check_job_id(ctx, settings)
        yield settings
    except (click.exceptions.Exit, click.ClickException, click.Abort, OutputError):
        raise
    except WhaleFallSchedError as exc:
        if settings.debug:
            _print_traceback(settings.url)
        render_error(exc.to_dict(settings.redact), output)
        raise typer.Exit(exc.exit_code) from exc
    except Exception as exc:
        if settings.debug:
            _print_traceback(settings.url)
        internal = InternalError(
            f"unexpected {type(exc).__name__}: {settings.redact(str(exc))} "
            "(run with --debug for details)"
        )
        render_error(internal.to_dict(), output)
        raise typer.Exit(internal.exit_code) from exc
    finally:
        settings.close()


def _check_job_id(ctx: click.Context, settings: Settings) -> None:
    """A command's one ``job_id`` that is not valid UTF-8 names no job (exit 3); ``pause``
    and ``resume`` check each of theirs in the service, one failure not stopping the rest."""
    job_id = ctx.params.get("job_id")
    if isinstance(job_id, str):
        from whalefall_sched.services.job_ids import check_job_id

        check_job_id(job_id, settings.repository().where)


def _render(result: Any, output: OutputFormat) -> None:
    from whalefall_sched.cli.render import render

    render(result, output)


def _notes(notes: Iterable[str]) -> None:
    """Print each note once, on stderr, so stdout stays one JSON document."""
    from whalefall_sched.cli.render import note

    for text in dict.fromkeys(notes):
        note(f"note: {text}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name=PROG)
