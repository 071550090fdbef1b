"""The ``whalefall-sched`` command line: options, rendering and exit codes only.

Heavy modules (SQLAlchemy, APScheduler, Rich) are imported by the commands that need
them, so ``--help`` and shell completion stay fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from typer.core import TyperGroup

from whalefall_sched import __version__
from whalefall_sched.cli.exit_codes import ExitCode
from whalefall_sched.cli.render_types import OutputFormat
from whalefall_sched.cli.settings import (
    DEFAULT_TABLE,
    DEFAULT_URL,
    Settings,
)
from whalefall_sched.cli.terminal import (
    GuardedStdout,
    OutputError,
    discard_pending_output,
    err_line,
    line,
    printable,
    reliable,
    reserve_standard_fds,
)
from whalefall_sched.errors import (
    InternalError,
    InvalidInputError,
    WhaleFallSchedError,
    error_object,
)

if TYPE_CHECKING:
    from whalefall_sched.services.actions_service import Replacement, SchedulerActionsService
    from whalefall_sched.services.dto import SchedulerJobsReloadResult

PROG = "whalefall-sched"
#: The shell's convention for a command stopped by Ctrl-C.
INTERRUPTED = 130
#: What a shell reports for a command killed by SIGPIPE: the reader of stdout went away.
BROKEN_PIPE = 141


class _OneLineErrors(TyperGroup):
    """Usage errors as one ``Error: ...`` line (plus a hint), never a box or a traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def call() -> Any:
            return super(_OneLineErrors, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        if not standalone_mode:
            return call()
        sys.exit(_with_guarded_stdout(lambda: _one_line_errors(call, args)))


def _one_line_errors(call: Callable[[], Any], args: Sequence[str] | None) -> int:
    """Run ``call`` (Click's main, not standalone); its exit code, usage errors one line."""
    try:
        rv = call()
    except click.ClickException as exc:
        where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else PROG
        hint = f" (see `{where} --help`)" if isinstance(exc, click.UsageError) else ""
        if _wants_json(args):
            from whalefall_sched.cli.render import print_json

            error = error_object(InvalidInputError.code, exc.format_message(), exc.exit_code)
            print_json({"error": error})
        err_line(f"Error: {exc.format_message()}{hint}")
        return exc.exit_code
    except click.Abort as exc:
        err_line("Aborted.")
        interrupted = isinstance(exc.__context__, KeyboardInterrupt)
        return INTERRUPTED if interrupted else ExitCode.CONFLICT
    return rv if isinstance(rv, int) else 0


def _with_guarded_stdout(run: Callable[[], int]) -> int:
    """Run a command with every write to stdout checked, flushed before the exit.

    stdout closed: exit 5 at once, nothing done (there is no way to report a result).
    A write that fails: exit 5 with one line on stderr. The reader gone (EPIPE, as in
    ``list | head -1``): exit :data:`BROKEN_PIPE`, quietly, as a shell reports SIGPIPE.
    """
    reserve_standard_fds()
    stream = sys.stdout
    if stream is None:
        err_line("Error: cannot write to stdout: it is closed; nothing was done")
        return ExitCode.SYSTEM
    if isinstance(stream, io.TextIOWrapper):
        # a terminal that is not UTF-8 shows what it cannot as escapes (JSON: ASCII)
        stream.reconfigure(errors="backslashreplace")
    writer = reliable(stream)
    sys.stdout = GuardedStdout(writer)
    try:
        code = run()
        sys.stdout.flush()
    except OutputError as exc:
        discard_pending_output(writer)
        if isinstance(exc.cause, BrokenPipeError):
            return BROKEN_PIPE
        err_line(f"Error: cannot write to stdout: {exc.cause.strerror or exc.cause}")
        return ExitCode.SYSTEM
    finally:
        sys.stdout = stream
    return code


def _wants_json(args: Sequence[str] | None) -> bool:
    """Whether the command line asks for ``-o json`` (for errors found while parsing it)."""
    argv = list(sys.argv[1:] if args is None else args)
    return any(
        arg in ("-ojson", "--output=json")
        or (arg in ("-o", "--output") and argv[i + 1 : i + 2] == ["json"])
        for i, arg in enumerate(argv)
    )


app = typer.Typer(
    name=PROG,
    cls=_OneLineErrors,
    help=(
        "Operate an APScheduler 3 job store from a shell: list, get, pause, resume, run "
        "and reload jobs straight on the store. Reads never write."
    ),
    rich_markup_mode="rich",
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
    """Job ids from the store for TAB completion; silent on any error."""
    settings = _settings_from(ctx)
    try:
        ids = [job.id for job in settings.repository().list_jobs()]
    except Exception:  # noqa: BLE001 - completion must never print or fail
        return []
    finally:
        settings.close()
    # an id a shell could not take back as one word is left out
    return [i for i in ids if i.startswith(incomplete) and i.isprintable()]


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
    tasks: Annotated[
        Path | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_TASKS",
            help="Default-task YAML file (default: the example bundled in the package).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_CONFIG",
            help="YAML of whalefall-sched's own keys (functions, timezone, builtin_ids, "
            "manual_kwargs_ids, app_factory, job_defaults) overriding the tasks file's, "
            "so the host's tasks file can be used unchanged.",
            show_default=False,
        ),
    ] = None,
    app_path: Annotated[
        list[str] | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_APP_PATH",
            help=f"Directory put on sys.path so the host app's task modules import "
            f"(repeatable; the variable takes a '{os.pathsep}'-separated list).",
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
    """Global options come before the command."""
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
    )
    _configure_logging(debug, url)


class _Formatter(logging.Formatter):
    """One line per record; tracebacks only with ``--debug``; the URL's password masked."""

    def __init__(self, debug: bool, url: str | None = None) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.debug = debug
        self.url = url

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return super().formatException(ei) if self.debug else ""

    def format(self, record: logging.LogRecord) -> str:
        from whalefall_sched.masking import redact

        if not self.debug:
            record.exc_text = None
            return line(redact(super().format(record).rstrip(), self.url))
        return "\n".join(
            printable(text) for text in redact(super().format(record), self.url).splitlines()
        )


def _configure_logging(debug: bool, url: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(debug, url))
    root = logging.getLogger("whalefall_sched")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False


def _print_traceback(url: str) -> None:
    """The current exception's traceback on stderr (``--debug``), the URL's password
    masked, each line printable."""
    from whalefall_sched.masking import redact

    for text in redact(traceback.format_exc(), url).splitlines():
        err_line(text)


@contextmanager
def _guard(ctx: click.Context, output: OutputFormat) -> Iterator[Settings]:
    """Run a command: core errors become one line and their exit code."""
    from whalefall_sched.cli.render import render_error
    from whalefall_sched.masking import redact

    settings = _settings_from(ctx)
    try:
        _check_job_id(ctx, settings)
        yield settings
    except (click.exceptions.Exit, click.ClickException, click.Abort, OutputError):
        raise
    except WhaleFallSchedError as exc:
        if settings.debug:
            _print_traceback(settings.url)
        render_error(exc.to_dict(lambda text: redact(text, settings.url)), output)
        raise typer.Exit(exc.exit_code) from exc
    except Exception as exc:
        if settings.debug:
            _print_traceback(settings.url)
        internal = InternalError(
            f"unexpected {type(exc).__name__}: {redact(str(exc), settings.url)} "
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


# -- reading ---------------------------------------------------------------------------


@app.command("list")
def list_command(
    ctx: typer.Context,
    *,
    state: Annotated[
        StateFilter | None, typer.Option("--state", help="Only jobs in this state.")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List every job, sorted by id (read-only)."""
    from whalefall_sched.cli.render import JobList
    from whalefall_sched.services.dto import (
        STATE_PAUSED,
        STATE_RUNNING,
        STATE_UNREADABLE,
    )

    wanted = (
        {
            StateFilter.running: STATE_RUNNING,
            StateFilter.paused: STATE_PAUSED,
            StateFilter.unreadable: STATE_UNREADABLE,
        }.get(state)
        if state
        else None
    )
    with _guard(ctx, output) as settings:
        items = settings.read_service().list_jobs(state=wanted)
        _render(JobList(items), output)


@app.command("get")
def get_command(
    ctx: typer.Context,
    job_id: Annotated[
        str,
        typer.Argument(help="Job id.", show_default=False, autocompletion=_complete_job_id),
    ],
    *,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show one job (read-only)."""
    with _guard(ctx, output) as settings:
        _render(settings.read_service().get_job(job_id), output)


@app.command("status")
def status_command(ctx: typer.Context, *, output: OutputOption = OutputFormat.table) -> None:
    """Is the store reachable and initialised, is a scheduler processing it (read-only).

    Exit 0 healthy, 4 degraded (each reason listed), 5 unreachable.
    """
    with _guard(ctx, output) as settings:
        status = settings.read_service().status()
        _render(status, output)
        _notes(status.notes)
        if status.error is not None:
            # the one-line error of every failure; with -o json the status stays the
            # only document on stdout
            err_line(f"Error: {status.error['message']}")
        if status.exit_code:
            raise typer.Exit(status.exit_code)


# -- acting ------------------------------------------------------------------------------


def _act(ctx: click.Context, action: str, job_ids: list[str], output: OutputFormat) -> None:
    """Pause or resume every id; render the one result and exit with its code."""
    from whalefall_sched.masking import redact

    with _guard(ctx, output) as settings:
        service = settings.actions_service()
        act = service.pause_jobs if action == "pause" else service.resume_jobs
        result = act(job_ids)
        _render(result, output)
        _notes(result.notes)
        for _, error in result.errors:
            err_line(f"Error: {redact(str(error), settings.url)}")
        if result.exit_code:
            raise typer.Exit(result.exit_code)


@app.command("pause")
def pause_command(
    ctx: typer.Context,
    job_ids: JobIdsArgument,
    *,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Pause jobs: clear their next run time, as APScheduler's pause_job does."""
    _act(ctx, "pause", job_ids, output)


@app.command("resume")
def resume_command(
    ctx: typer.Context,
    job_ids: JobIdsArgument,
    *,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Resume jobs: next run time from each job's own trigger, as resume_job does."""
    _act(ctx, "resume", job_ids, output)


@app.command("run")
def run_command(
    ctx: typer.Context,
    job_id: Annotated[
        str,
        typer.Argument(help="Job id.", show_default=False, autocompletion=_complete_job_id),
    ],
    *,
    created_by: Annotated[
        int | None,
        typer.Option(help="User id recorded as created_by by the built-in jobs that take it."),
    ] = None,
    app_factory: Annotated[
        str | None,
        typer.Option(
            envvar="WHALEFALL_SCHED_APP_FACTORY",
            help="module:callable building the host app; the job runs in its app context "
            "(default: the tasks file's app_factory).",
            show_default=False,
        ),
    ] = None,
    run_timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.1,
            max=MAX_SECONDS,
            callback=_finite_or_none,
            help="Seconds the job may run; then its process is killed and the run "
            "reported as timed out (exit 6). Default: no limit.",
            show_default=False,
        ),
    ] = None,
    allow_any_function: Annotated[
        bool,
        typer.Option(
            "--allow-any-function",
            help="Run the job even if its function is not one the tasks file lists.",
        ),
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Run a job's function now, in a thread named <id>_manual of a child process, and wait.

    Exit 0 when it returned, 1 when it did not (it raised or ended its process),
    6 when it timed out.
    """
    from whalefall_sched.cli.render import note
    from whalefall_sched.masking import redact

    def started(thread_name: str, pid: int) -> None:
        note(f"started {thread_name} (pid {pid})")

    with _guard(ctx, output) as settings:
        service = settings.actions_service(app_factory=app_factory)
        # What the task prints goes to stderr: stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            result = service.run_job(
                job_id,
                created_by,
                timeout=run_timeout,
                allow_any_function=allow_any_function,
                on_start=started,
            )
        if result.error:
            result = dataclasses.replace(result, error=redact(result.error, settings.url))
        _render(result, output)
        _notes(result.notes)
        if result.exit_code:
            raise typer.Exit(result.exit_code)


@app.command("reload")
def reload_command(
    ctx: typer.Context,
    *,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    backup_dir: BackupDirOption = None,
    no_backup: NoBackupOption = False,
    verify_imports: Annotated[
        bool,
        typer.Option(
            "--verify-imports/--no-verify-imports",
            help="Check that every task function imports before writing.",
        ),
    ] = True,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Remove every job, then register the enabled default tasks: all or nothing."""
    with _guard(ctx, output) as settings:
        service = settings.actions_service()
        plan = service.plan_reload(verify_imports=verify_imports)
        _replace(
            settings,
            service,
            plan,
            yes=yes,
            dry_run=dry_run,
            backup_dir=backup_dir,
            no_backup=no_backup,
            output=output,
        )


def _backup_dir(settings: Settings, chosen: Path | None, no_backup: bool) -> Path | None:
    if no_backup:
        return None
    return chosen or settings.repository().default_backup_dir()


def _notes(notes: Iterable[str]) -> None:
    """Print each note once, on stderr, so stdout stays one JSON document."""
    from whalefall_sched.cli.render import note

    for text in dict.fromkeys(notes):
        note(f"note: {text}")


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    backup: Annotated[
        Path,
        typer.Argument(
            help="A backup file written by reload (under userdata/backups/).", show_default=False
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
    output: OutputOption = OutputFormat.table,
) -> None:
    """Put back the rows a reload removed, byte for byte: all or nothing.

    Every row is checked first as the careful reader checks the store (it must decode
    safely and agree with itself); a backup with a row that does not is refused.
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
) -> None:
    """The body of reload and restore: preview, confirm, replace, report."""
    preview = service.preview(plan)
    if dry_run:
        _render(preview, output)
        return
    if not yes:
        _confirm(settings, preview, plan.origin)
    result = service.apply(plan, backup_dir=_backup_dir(settings, backup_dir, no_backup))
    _render(result, output)
    _notes(result.notes)


def _confirm(settings: Settings, preview: SchedulerJobsReloadResult, origin: str) -> None:
    """Ask before replacing every job; refuse (exit 4) where there is no terminal to ask on."""
    from whalefall_sched.errors import StoreConflictError

    action = "reload" if preview.restored_from is None else "restore"
    if sys.stdin is None or sys.stdin.closed or not sys.stdin.isatty():
        raise StoreConflictError(
            f"{action} deletes every job and needs confirmation; no terminal to ask on, "
            "so nothing was changed (pass --yes)"
        )
    where = settings.repository().where
    verb = "register" if preview.restored_from is None else "restore"
    question = (
        f"Delete {preview.deleted_count} job(s) in {where} and {verb} "
        f"{preview.written_count} from {origin}?"
    )
    if not typer.confirm(printable(question), err=True):
        raise StoreConflictError(f"{action} not confirmed; nothing was changed")


def main() -> None:
    """Console-script entry point."""
    app(prog_name=PROG)
