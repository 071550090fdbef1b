"""``export``: the store's jobs as a tasks file (YAML or JSON), to stdout or a file."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from whalefall_sched.cli.app import _guard, app
from whalefall_sched.cli.render_types import OutputFormat


class ExportFormat(StrEnum):
    """``export -o``: a tasks file in YAML (default) or the same data in JSON."""

    yaml = "yaml"
    json = "json"


@app.command("export")
def export_command(
    ctx: typer.Context,
    *,
    output: Annotated[
        ExportFormat,
        typer.Option("--output", "-o", help="yaml: a tasks file; json: the same data."),
    ] = ExportFormat.yaml,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="Write to FILE (atomically) instead of stdout; an existing FILE is "
            "refused unless --force.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --file.")] = False,
) -> None:
    """Write the store's jobs as a tasks file that reload rebuilds them from.

    The host's YAML shape (default_tasks: id, name, function, trigger_type,
    trigger_params, enabled, description); a paused job gets `paused: true`,
    which reload honours. A job that cannot be written so (an unreadable row,
    say) is left out, the command ends with an error naming it, and exits 4.
    """

    mode = OutputFormat.json if output is ExportFormat.json else OutputFormat.table
    with _guard(ctx, mode) as settings:
        from whalefall_sched.services.export import export_jobs

        result = export_jobs(settings.repository(), settings._tasks_for_reading())
        if output is ExportFormat.json:
            from whalefall_sched.cli.json_output import json_document, json_text

            text = json_text(json_document(result)) + "\n"
        else:
            text = result.yaml_text()
        if file is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            _write_file(file, text, force=force)
        if file is not None:
            from whalefall_sched.cli.render import note

            note(f"exported {result.exported} job(s) to {file}")
        error = result.error
        if error is not None:
            from whalefall_sched.cli.render import render_error

            # the document (its ``error`` included) is already on stdout: the one
            # ``Error:`` line and each job's reason go to stderr only
            render_error(error, OutputFormat.table)
            raise typer.Exit(error["exit_code"])


def _write_file(path: Path, text: str, *, force: bool) -> None:
    """``text`` into ``path`` atomically (:func:`whalefall_sched.files.write_atomically`);
    an existing ``path`` is refused (exit 2) unless ``force``, a path that cannot be
    written is a system failure (exit 5)."""
    from whalefall_sched.errors import InvalidInputError, StoreSystemError
    from whalefall_sched.files import write_atomically

    try:
        write_atomically(path, text.encode("utf-8"), overwrite=force)
    except FileExistsError as exc:
        raise InvalidInputError(f"{path} exists; nothing written (--force overwrites it)") from exc
    except OSError as exc:
        raise StoreSystemError(
            f"cannot write {path}: {exc.strerror or exc}; nothing written"
        ) from exc
