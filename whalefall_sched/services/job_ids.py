"""Ids given on a command line that no store can match as given."""

from __future__ import annotations

from whalefall_sched.errors import JobNotFoundError


def check_job_id(job_id: str, where: str) -> None:
    """Raise :class:`JobNotFoundError` for an id that is not valid UTF-8.

    Python decodes command-line bytes that are not UTF-8 as lone surrogates, which no
    database takes as text. A stored id that is not UTF-8 (SQLite keeps any bytes) is
    listed, and given, as printable text (``a\\udcff``); the message says so. ``where``
    names the store.
    """
    try:
        job_id.encode("utf-8")
    except UnicodeEncodeError:
        raw = job_id.encode("utf-8", "surrogateescape").hex(" ")
        shown = job_id.encode("utf-8", "backslashreplace").decode("utf-8")
        raise JobNotFoundError(
            f"job {job_id!r} not found in {where}: the id given is not valid UTF-8 "
            f"(bytes {raw}); an id stored that way is given as `list` shows it ({shown})"
        ) from None
