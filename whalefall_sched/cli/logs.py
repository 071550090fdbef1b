"""Log records and ``--debug`` tracebacks on stderr: one line each, control characters
escaped, the store URL's password masked."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TYPE_CHECKING, Any

from whalefall_sched.cli.terminal import (
    err_line,
    line,
    printable,
)

if TYPE_CHECKING:
    pass


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
