"""The ``whalefall-sched`` app: its global options, and the one ``_guard`` that turns
every command's errors into one line and an exit code.

The commands register themselves from the ``commands_*`` modules. Heavy modules
(SQLAlchemy, APScheduler, Rich) are imported by the commands that need them, so
``--help`` and shell completion stay fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

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
from whalefall_sched.cli.options import (
    MAX_ACTOR_CHARS,
    MAX_REASON_CHARS,
    MAX_SECONDS,
    _audit_text,
    _finite,
    _schema_name,
    _table_name,
)
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.settings import (
    DEFAULT_TABLE,
    DEFAULT_URL,
    Settings,
)
from whalefall_sched.cli.terminal import OutputError
from whalefall_sched.errors import (
    InternalError,
    WhaleFallSchedError,
)


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
