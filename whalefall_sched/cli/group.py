"""The command group: global options before or after the command, plain help that teaches,
usage errors as one line, stdout write errors and a reader gone away turned into
documented exit codes (0-6, 130, 141)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

import click
from typer.core import TyperArgument, TyperCommand, TyperGroup

from whalefall_sched.cli import help_text
from whalefall_sched.cli.exit_codes import ExitCode
from whalefall_sched.cli.terminal import (
    GuardedStdout,
    OutputError,
    discard_pending_output,
    err_line,
    reliable,
    reserve_standard_fds,
)
from whalefall_sched.errors import (
    InvalidInputError,
    error_object,
)

if TYPE_CHECKING:
    pass


PROG = "whalefall-sched"
#: The shell's convention for a command stopped by Ctrl-C.
INTERRUPTED = 130
#: What a shell reports for a command killed by SIGPIPE: the reader of stdout went away.
BROKEN_PIPE = 141


class _OneLineErrors(TyperGroup):
    """Usage errors as one ``Error: ...`` line (plus a hint), never a box or a traceback;
    global options accepted after the command too; help with the environment variables,
    the exit codes and examples."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse with the global options found after the command moved before it (during
        shell completion too, so a completer sees ``list --url X`` as ``--url X list``)."""
        return super().parse_args(ctx, hoist_global_options(self, ctx, args))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Click's own lookup, with one "Did you mean" for a mistyped command (Typer adds a
        second one to Click's since Click 8.4)."""
        try:
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as exc:
            matches = get_close_matches(args[0], list(self.commands)) if args else []
            if not matches or "Did you mean" in exc.format_message():
                raise
            suggestions = ", ".join(repr(m) for m in matches)
            message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise click.UsageError(message, exc.ctx) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's first sentence, whole."""
        rows = []
        order = {name: index for index, name in enumerate(help_text.COMMAND_ORDER)}
        names = self.list_commands(ctx)
        for name in sorted(names, key=lambda n: order.get(n, len(order))):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        help_text.write_commands(formatter, rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The rule for global options, the variables, the exit codes, examples."""
        help_text.write_global_rule(formatter, self)
        help_text.write_environment(formatter, self)
        help_text.write_exit_codes(formatter)
        help_text.write_examples(formatter, "")
        super().format_epilog(ctx, formatter)

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


class _Command(TyperCommand):
    """A command whose help shows the global options it inherits and its examples."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command's arguments and options, then the global ones."""
        _restore_argument_help(self)
        super().format_options(ctx, formatter)
        help_text.write_global_options(formatter, ctx, self)

    def shell_complete(
        self, ctx: click.Context, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        """The command's option names, then the global ones it does not shadow."""
        from click.shell_completion import CompletionItem

        results = super().shell_complete(ctx, incomplete)
        if ctx.parent is None or not incomplete.startswith("-"):
            return results
        offered = {item.value for item in results}
        own = {name for p in self.get_params(ctx) for name in help_text.option_names(p)}
        for param in help_text.global_options(ctx.parent.command):
            for name in help_text.option_names(param):
                if name.startswith(incomplete) and name not in own and name not in offered:
                    results.append(CompletionItem(name, help=param.help))
        return results

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command's examples (:data:`help_text.EXAMPLES`)."""
        super().format_epilog(ctx, formatter)
        help_text.write_examples(formatter, self.name or "")


def _restore_argument_help(command: click.Command) -> None:
    """Put back an argument's help that Click 8.2+ drops when Typer builds the argument
    (``Parameter.__init__`` sets ``help`` again, to None); read only to show help."""
    lost = [p for p in command.params if isinstance(p, TyperArgument) and p.help is None]
    if not lost or command.callback is None:
        return
    from typer.models import ArgumentInfo
    from typer.utils import get_params_from_function

    callback = getattr(command.callback, "__wrapped__", command.callback)
    infos = get_params_from_function(callback)
    for param in lost:
        meta = infos.get(param.name or "")
        if meta is not None and isinstance(meta.default, ArgumentInfo):
            param.help = meta.default.help


def _takes_value(param: click.Parameter) -> bool:
    return not (isinstance(param, click.Option) and (param.is_flag or param.count))


def hoist_global_options(group: click.Group, ctx: click.Context, args: list[str]) -> list[str]:
    """``args`` with the group's global options given after the command moved to just
    before it, so Click parses them as the group's (after any given before: the one after
    wins). An option the command itself has (``run --timeout``) stays the command's;
    nothing after ``--`` moves, and an option's value is never taken for an option.
    """
    root_opts = {name: _takes_value(p) for p in group.params for name in help_text.option_names(p)}
    at = 0
    while at < len(args):
        arg = args[at]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break
        name, eq, _ = arg.partition("=")
        at += 2 if root_opts.get(name) and not eq else 1
    if at >= len(args) or args[at] == "--":
        return args
    command = group.get_command(ctx, args[at])
    if command is None:
        return args
    movable = {
        name: _takes_value(p)
        for p in help_text.global_options(group)
        for name in help_text.option_names(p)
    }
    own = {name: _takes_value(p) for p in command.params for name in help_text.option_names(p)}
    moved: list[str] = []
    kept: list[str] = []
    rest = args[at + 1 :]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            kept.extend(rest[i:])
            break
        name, eq, _ = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in own:
            taken = 2 if own[name] and not eq else 1
            kept.extend(rest[i : i + taken])
        elif name in movable:
            taken = 2 if movable[name] and not eq else 1
            if i + taken > len(rest):
                if not ctx.resilient_parsing:
                    raise click.BadOptionUsage(name, f"Option '{name}' requires an argument.", ctx)
                kept.append(arg)  # completing its value: left where it is
            else:
                moved.extend(rest[i : i + taken])
        else:
            taken = 1
            kept.append(arg)
        i += taken
    return [*args[:at], *moved, args[at], *kept]


def _one_line_errors(call: Callable[[], Any], args: Sequence[str] | None) -> int:
    """Run ``call`` (Click's main, not standalone); its exit code, usage errors one line."""
    try:
        rv = call()
    except click.ClickException as exc:
        where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else PROG
        hint = f" (see `{where} --help`)" if isinstance(exc, click.UsageError) else ""
        if _wants_json(args):
            from whalefall_sched.cli.json_output import error_document, print_json

            error = error_object(InvalidInputError.code, exc.format_message(), exc.exit_code)
            print_json(error_document(error))
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
