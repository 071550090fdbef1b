"""What ``--help`` teaches beyond the options: examples, environment variables, exit codes.

Plain Click formatting (no Rich): help must start fast and read well at 80 columns and
below, so nothing here is cut; long words (a URL, a variable's name) are wrapped whole.

A command declares its examples in one place, :data:`EXAMPLES`, keyed by its name (``""``
is the tool itself); each example is a command line and what it does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from whalefall_sched.errors import ExitCode

#: The order of the commands in the top-level help: set-up, reading, changing jobs,
#: replacing them all. A command not listed comes last, in registration order.
COMMAND_ORDER = (
    "init",
    "list",
    "get",
    "status",
    "timeline",
    "runs",
    "log",
    "pause",
    "resume",
    "run",
    "reschedule",
    "delete",
    "reload",
    "restore",
    "export",
)

#: Every command's examples (2-3 each): (command line, what it does). ``""``: the tool's.
EXAMPLES: dict[str, Sequence[tuple[str, str]]] = {
    "": (
        ("whalefall-sched list", "Every job of the default store."),
        (
            "whalefall-sched list --url sqlite:///srv/app/jobs.db",
            "Another store; global options go before or after the command.",
        ),
        ("whalefall-sched pause sync_accounts", "Stop a job firing until it is resumed."),
    ),
    "list": (
        ("whalefall-sched list", "Every job, sorted by id."),
        ("whalefall-sched list --state paused", "Only the paused jobs."),
        ("whalefall-sched list -o name --state paused", "The ids of the paused jobs, one a line."),
    ),
    "get": (
        ("whalefall-sched get sync_accounts", "One job: trigger, next run, function."),
        (
            "whalefall-sched get sync_accounts -o json | jq .next_run_time",
            "One field, for scripts.",
        ),
    ),
    "init": (
        ("whalefall-sched init", "Create the default store and register the default jobs."),
        ("whalefall-sched init --dry-run", "What would be created and registered."),
        (
            "whalefall-sched --url postgresql+psycopg://ops@db/whalefall init",
            "Create the job table on a PostgreSQL server.",
        ),
    ),
    "runs": (
        ("whalefall-sched runs", "The latest 20 runs of every job, newest first."),
        (
            "whalefall-sched runs sync_accounts --status failed --limit 5",
            "One job's last 5 failed runs.",
        ),
        (
            "whalefall-sched --history-url postgresql+psycopg://db/app runs show ID",
            "One run of the host's task_runs, with its items.",
        ),
    ),
    "log": (
        ("whalefall-sched log", "The last 50 writes: who, when, what, why."),
        ("whalefall-sched log sync_accounts --since 7d", "One job's changes this week."),
        (
            "whalefall-sched pause sync_accounts --reason 'DB maintenance'",
            "Record why with any write; `get` then shows it.",
        ),
    ),
    "timeline": (
        ("whalefall-sched timeline", "The next 24 hours, one lane per job."),
        ("whalefall-sched timeline --days 7 --tz UTC", "A week ahead, on a UTC axis."),
        (
            "whalefall-sched timeline -o json | jq '.collisions'",
            "Jobs that fire in the same minute.",
        ),
    ),
    "status": (
        ("whalefall-sched status", "Is the store reachable, is a scheduler running?"),
        ("whalefall-sched status -o json | jq .healthy", "true or false, for a health check."),
        (
            "whalefall-sched status --url postgresql+psycopg://db/app",
            "The same for a PostgreSQL store.",
        ),
    ),
    "reschedule": (
        (
            'whalefall-sched reschedule sync_accounts "0 30 2 * * *" --dry-run',
            "The next 5 fire times before and after; nothing changed.",
        ),
        (
            'whalefall-sched reschedule sync_accounts "0 3 * * mon-fri"',
            "5 fields as the host's PUT takes them (second 0), in the job's zone.",
        ),
        (
            "whalefall-sched reschedule cleanup_logs --interval 6h --keep-paused",
            "Every 6 hours; a paused job stays paused.",
        ),
    ),
    "delete": (
        ("whalefall-sched delete old_job", "Remove a job after asking; every row is backed up."),
        (
            "whalefall-sched delete --match 'tmp_*' --yes",
            "Every job whose id matches, no question; one failure does not stop the others.",
        ),
        (
            "whalefall-sched restore userdata/backups/<file>.json",
            "Undo: put back every job of that backup.",
        ),
    ),
    "pause": (
        ("whalefall-sched pause sync_accounts", "Stop one job firing until it is resumed."),
        (
            "whalefall-sched pause --match 'sync_*' --yes",
            "Every job whose id starts with sync_; each is reported on its own.",
        ),
        (
            "whalefall-sched list -o name | grep ^sync_ | whalefall-sched pause - --yes",
            "Ids from a pipe, one a line (- reads stdin).",
        ),
    ),
    "resume": (
        ("whalefall-sched resume sync_accounts", "Fire again from the job's own trigger."),
        (
            "whalefall-sched resume --state paused --yes",
            "Every paused job; more than 3 are listed and asked for without --yes.",
        ),
        (
            "whalefall-sched list -o name --state paused | whalefall-sched resume - --yes",
            "Ids from a pipe, one a line (- reads stdin).",
        ),
    ),
    "run": (
        ("whalefall-sched run cleanup_logs", "Run the job's function now and wait for it."),
        (
            "whalefall-sched run sync_accounts --timeout 600",
            "Stop it after 10 minutes (exit 6); this --timeout is the run's own.",
        ),
        (
            "whalefall-sched run sync_accounts --app-path /srv/app",
            "Import the job's function from the host app's code.",
        ),
    ),
    "reload": (
        (
            "whalefall-sched reload --dry-run",
            "Show the diff: jobs added, removed, changed (old -> new), resumed.",
        ),
        (
            "whalefall-sched reload --keep-paused --yes",
            "Replace every job, keeping paused jobs paused; the old rows are backed up.",
        ),
        (
            "whalefall-sched reload --tasks tasks.yaml --yes",
            "Register the tasks of another file (an export, say).",
        ),
    ),
    "export": (
        ("whalefall-sched export", "The store's jobs as a tasks file, on stdout."),
        (
            "whalefall-sched export -f tasks.yaml",
            "Write it to a file (refused if it exists, unless --force).",
        ),
        ("whalefall-sched export -o json", "The same data as one JSON document."),
    ),
    "restore": (
        (
            "whalefall-sched restore userdata/backups/<file>.json --dry-run",
            "Show what the backup would put back.",
        ),
        (
            "whalefall-sched restore userdata/backups/<file>.json --yes",
            "Put back the rows a reload removed.",
        ),
    ),
}

#: What each exit code means, for the top-level help (the README has the long form).
EXIT_CODES: dict[int, str] = {
    ExitCode.OK: "Success.",
    ExitCode.RUN_FAILED: "run: the job's function did not return (it raised or ended).",
    ExitCode.USAGE: "Usage error (unknown command or option, bad value) or invalid tasks file.",
    ExitCode.NOT_FOUND: "Not found: no job with that id.",
    ExitCode.CONFLICT: "Conflict: store not initialised, unsafe action refused, or the job "
    "kept changing.",
    ExitCode.SYSTEM: "System error: store unreachable, a statement failed, or stdout "
    "cannot be written.",
    ExitCode.RUN_TIMED_OUT: "run --timeout: the job was still running and was stopped.",
    130: "Stopped with Ctrl-C.",
    141: "The reader of stdout went away (a closed pipe), as for SIGPIPE.",
}

#: Where global options go, said in every help.
WHERE_GLOBAL_OPTIONS_GO = (
    "before or after the command; given on both sides, the one after wins (--app-path "
    "adds up). An option wins over its environment variable."
)


def global_options(root: click.Command) -> list[click.Option]:
    """The root's options a command line may also give after the command (not --help,
    --version and the completion options, which act at once)."""
    return [
        p for p in root.params if isinstance(p, click.Option) and not p.is_eager and p.expose_value
    ]


def option_names(param: click.Parameter) -> list[str]:
    """Every spelling of an option (``--verify-imports``, ``--no-verify-imports``)."""
    if isinstance(param, click.Option):
        return [*param.opts, *param.secondary_opts]
    return []


def write_examples(formatter: click.HelpFormatter, name: str) -> None:
    """The ``Examples:`` section of a command (``name``) or of the tool (``""``)."""
    examples = EXAMPLES.get(name, ())
    if not examples:
        return
    with formatter.section("Examples"):
        for number, (line, what) in enumerate(examples):
            if number:
                formatter.write_paragraph()
            formatter.write_text(f"# {what}")
            # a command line is never wrapped: it stays one line to copy
            formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


def write_global_options(
    formatter: click.HelpFormatter,
    ctx: click.Context,
    command: click.Command,
) -> None:
    """A command's ``Global options:`` section: the root's, with their variables."""
    parent = ctx.parent
    if parent is None:
        return
    own = {name for p in command.get_params(ctx) for name in option_names(p)}
    rows: list[tuple[str, str]] = []
    for param in global_options(parent.command):
        record = param.get_help_record(parent)
        if record is None:
            continue
        shadowed = sorted(own.intersection(option_names(param)))
        if shadowed:
            # run --timeout: after the command, the name is the command's own option
            first, text = record
            mine = ", ".join(shadowed)
            record = (first, f"Before the command only ({mine} after it is its own). {text}")
        rows.append(record)
    if not rows:
        return
    with formatter.section("Global options"):
        formatter.write_text(f"Inherited from {parent.command_path}: {WHERE_GLOBAL_OPTIONS_GO}")
        formatter.write_paragraph()
        formatter.write_dl(rows)


def write_global_rule(formatter: click.HelpFormatter, group: click.Group) -> None:
    """The top-level help's paragraph on where the global options go."""
    names = ", ".join(max(p.opts, key=len) for p in global_options(group))
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(f"Global options ({names}): {WHERE_GLOBAL_OPTIONS_GO}")


def write_commands(formatter: click.HelpFormatter, rows: Iterable[tuple[str, str]]) -> None:
    """The ``Commands:`` section, each command's first sentence whole (never cut)."""
    rows = list(rows)
    if rows:
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def write_environment(formatter: click.HelpFormatter, group: click.Group) -> None:
    """The ``Environment variables:`` section: every option's variable, root's first."""
    rows: list[tuple[str, str]] = []
    for param in group.params:
        if isinstance(param, click.Option) and isinstance(param.envvar, str):
            rows.append((param.envvar, _longest(param)))
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        for param in command.params if command else []:
            if isinstance(param, click.Option) and isinstance(param.envvar, str):
                rows.append((param.envvar, f"{name} {_longest(param)}"))
    if not rows:
        return
    with formatter.section("Environment variables"):
        formatter.write_text("Each sets the option named; the option wins over the variable.")
        formatter.write_paragraph()
        formatter.write_dl(rows)


def write_exit_codes(formatter: click.HelpFormatter) -> None:
    """The ``Exit codes:`` section."""
    with formatter.section("Exit codes"):
        formatter.write_dl([(str(code), meaning) for code, meaning in EXIT_CODES.items()])


def _longest(param: click.Option) -> str:
    return max(param.opts, key=len)
