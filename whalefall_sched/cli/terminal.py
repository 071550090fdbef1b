"""What reaches a terminal: visible control characters, bounded fields, safe streams.

Job names, ids, arguments and error messages come from the store and from files, so
they may hold escape sequences, bidi overrides, newlines or megabytes of text. Every
human output goes through :func:`printable` (and :func:`clip` for fields); JSON output
stays exact. Writes to stdout go through :class:`GuardedStdout`, so a failed write is
one :class:`OutputError` the entry point handles; stderr is best-effort (:func:`err_line`).
"""

from __future__ import annotations

import io
import os
import sys
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, TextIO

from whalefall_sched.cli.render_types import ColorMode

#: Characters of one field shown in a ``list`` table cell (ids, names, descriptions).
LIST_FIELD_CHARS = 200
#: Characters of one cron field shown in its ``list`` column (those columns never wrap).
CRON_FIELD_CHARS = 40
#: Characters of one field shown in the other tables (``get``, ``status``...).
FIELD_CHARS = 1000
#: Characters of one ``Error:``, ``note:`` or ``warning:`` line.
LINE_CHARS = 2000

#: Unicode categories written as escapes: controls, format characters (bidi overrides,
#: zero-width characters), surrogates, line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Format characters kept: the zero-width (non-)joiners of emoji and many scripts.
_KEPT = frozenset({"\u200c", "\u200d"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every control, format, separator and surrogate character written as a
    visible escape (``\\x1b``, ``\\n``, ``\\u202e``, ``\\udc9b``); other text unchanged."""
    if text.isprintable():
        return text
    return "".join(_visible(char) for char in text)


def _visible(char: str) -> str:
    if char in _KEPT or unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit:,} more characters]"


def field(value: Any, limit: int = FIELD_CHARS) -> str:
    """A value as one table field: cut to ``limit`` characters, then made printable."""
    return printable(clip("" if value is None else str(value), limit))


# -- widths in terminal cells ----------------------------------------------------------

#: What stands for the cut end of a cell (one cell wide).
ELLIPSIS = "…"


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` takes: East Asian wide and fullwidth characters
    two, combining marks and zero-width joiners none, every other character one.

    ``text`` is expected printable (:func:`printable`); ASCII is counted at once.
    """
    if text.isascii():
        return len(text)
    return _wide_width(text)


@lru_cache(maxsize=4096)
def _wide_width(text: str) -> int:
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or char in _KEPT:
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def fit(text: str, width: int, marker: str = ELLIPSIS) -> str:
    """``text`` cut to at most ``width`` cells, ending in ``marker`` (:data:`ELLIPSIS`,
    one cell, unless told) when cut."""
    if cell_width(text) <= width:
        return text
    if width <= 0:
        return ""
    room = width - cell_width(marker)
    if text.isascii():
        return text[: max(0, room)] + marker
    used = 0
    for index, char in enumerate(text):
        used += _char_width(char)
        if used > room:
            return text[:index] + marker
    return text  # pragma: no cover - the width check above returned already


def pad(text: str, width: int) -> str:
    """``text`` filled with spaces to ``width`` cells (unchanged where it is as wide)."""
    return text + " " * max(0, width - cell_width(text))


def stdout_width() -> int | None:
    """The width of the terminal stdout is, in cells; None when stdout is not a terminal.

    ``COLUMNS`` (a positive whole number) wins over what the terminal says, as in most
    tools; whatever stdin is plays no part.
    """
    stream = sys.stdout
    try:
        if stream is None or not stream.isatty():
            return None
    except (OSError, ValueError):  # closed
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def use_color(mode: ColorMode = ColorMode.auto) -> bool:
    """Whether stdout gets colour: the one rule of the tool (README, "Output, errors and
    exit codes"; Rich's tables follow the same variables).

    ``--color always`` and ``never`` win over everything. ``auto``: no colour when
    ``NO_COLOR`` is set (not empty) or ``TERM`` is ``dumb`` or ``unknown``; else colour
    when ``FORCE_COLOR`` is set (not empty) or stdout is a terminal.
    """
    if mode is not ColorMode.auto:
        return mode is ColorMode.always
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = sys.stdout
    try:
        return bool(stream is not None and stream.isatty())
    except (OSError, ValueError, AttributeError):  # closed, or not a real stream
        return False


#: Lines written to stdout at once by :func:`write_lines`.
_CHUNK = 2000


def write_lines(lines: Iterable[str]) -> None:
    """Each line and a newline on stdout, a chunk at a time (a long listing streams), then
    flushed."""
    chunk: list[str] = []
    write = sys.stdout.write
    for text in lines:
        chunk.append(text)
        if len(chunk) >= _CHUNK:
            chunk.append("")
            write("\n".join(chunk))
            chunk = []
    if chunk:
        chunk.append("")
        write("\n".join(chunk))
    sys.stdout.flush()


def line(text: str) -> str:
    """One line of human output on stderr: cut to :data:`LINE_CHARS`, made printable."""
    return printable(clip(text, LINE_CHARS))


def err_line(text: str) -> None:
    """``text`` as one line on stderr (:func:`line`); nothing when stderr is closed or gone."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(line(text) + "\n")
        stream.flush()
    except (OSError, ValueError):  # stderr gone (EPIPE) or closed: the exit code remains
        pass


class OutputError(Exception):
    """Writing to stdout failed (``cause``: the OSError); handled once, at the entry point."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class GuardedStdout:
    """``sys.stdout`` whose write and flush errors raise :class:`OutputError`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text``; an OSError becomes :class:`OutputError`."""
        try:
            return self.stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from exc

    def flush(self) -> None:
        """Flush; an OSError becomes :class:`OutputError`."""
        try:
            self.stream.flush()
        except OSError as exc:
            raise OutputError(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def reliable(stream: TextIO) -> TextIO:
    """``stream``, or where it is unbuffered (``python -u``, ``PYTHONUNBUFFERED``) the same
    descriptor through a buffered writer: an unbuffered text stream writes what a pipe
    takes at once and drops the rest of a long text without an error."""
    raw = getattr(stream, "buffer", None)
    if not (isinstance(stream, io.TextIOWrapper) and isinstance(raw, io.RawIOBase)):
        return stream
    writer = io.BufferedWriter(io.FileIO(stream.fileno(), "w", closefd=False))
    return io.TextIOWrapper(
        writer, encoding=stream.encoding, errors=stream.errors, write_through=True
    )


def discard_pending_output(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so the interpreter's last flush of
    what could not be written neither fails nor prints a second error."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test's buffer)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def reserve_standard_fds() -> None:
    """Open /dev/null on each closed standard descriptor (0, 1, 2), so that no file this
    process opens later (a SQLite store, a backup) takes its number and gets its output."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
