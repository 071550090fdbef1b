"""What a reload or restore does, job by job, as ``kubectl diff``/``terraform plan`` show it.

A plain writer (no Rich): ``+`` added, ``-`` removed (and why), ``~`` changed (each
field ``old -> new``), ``!`` paused -> running, ``=`` unchanged (a count unless
``--show-unchanged``), then the summary line. Every text from the store or the tasks
file goes through :func:`~whalefall_sched.cli.terminal.field` (printable, bounded);
colour only where :func:`~whalefall_sched.cli.terminal.use_color` says.
"""

from __future__ import annotations

from collections.abc import Iterator

from whalefall_sched.cli.terminal import field, use_color, write_lines
from whalefall_sched.services.diff import ReplacementDiff, ReplacementResult, show_value

_COLOURS = {"+": "32", "-": "31", "~": "33", "!": "36", "=": "2"}
#: The note a reload's dry run ends with (a restore writes the backup's next run times).
NEXT_RUN_NOTE = "Next run times are recomputed; a next run time alone is not a change."


def diff_lines(
    diff: ReplacementDiff, *, show_unchanged: bool = False, color: bool = False
) -> Iterator[str]:
    """The diff's lines, one job (or one changed field) a line."""

    def mark(sign: str, text: str) -> str:
        return f"\x1b[{_COLOURS[sign]}m{text}\x1b[0m" if color else text

    for job_id in diff.added:
        yield mark("+", f"+ {field(job_id)}  added")
    for removed in diff.removed:
        yield mark("-", f"- {field(removed.id)}  removed: {removed.reason}")
    for changed in diff.changed:
        if changed.unreadable is not None:
            yield mark("~", f"~ {field(changed.id)}  unreadable -> replaced")
            yield f"    ({field(changed.unreadable)})"
            continue
        yield mark("~", f"~ {field(changed.id)}  changed")
        for name, (old, new) in changed.fields.items():
            yield f"    {name}: {field(show_value(old))} -> {field(show_value(new))}"
    for job_id in diff.resumed:
        yield mark("!", f"! {field(job_id)}  paused -> running")
    for job_id in diff.paused:
        yield mark("!", f"! {field(job_id)}  running -> paused")
    if show_unchanged:
        for job_id in diff.unchanged:
            yield mark("=", f"= {field(job_id)}  unchanged")
    elif diff.unchanged:
        yield mark("=", f"= {len(diff.unchanged)} unchanged (--show-unchanged lists them)")


def render_replacement(result: ReplacementResult, *, show_unchanged: bool = False) -> None:
    """A reload's or restore's diff on stdout, its summary and (applied) its backup."""
    diff = result.diff
    lines = list(diff_lines(diff, show_unchanged=show_unchanged, color=use_color()))
    if result.dry_run:
        summary = f"{diff.summary_text(dry=True)}."
        if result.restored_from is None:
            lines.append(NEXT_RUN_NOTE)
        lines += [summary, "Dry run: nothing changed."]
    else:
        summary = f"{result.verb.capitalize()}: {diff.summary_text(dry=False)}."
        lines += [summary]
        if result.backup_path:
            lines.append(f"Backup of the replaced rows: {field(result.backup_path, 4096)}")
    write_lines(lines)
