"""The command group: usage errors as one line, stdout write errors and a reader gone
away turned into documented exit codes (0-6, 130, 141)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click
from typer.core import TyperGroup

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
            from whalefall_sched.cli.render import error_document, print_json

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
