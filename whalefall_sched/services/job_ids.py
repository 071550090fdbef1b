"""Ids given on a command line that no store can hold."""

from __future__ import annotations

from whalefall_sched.errors import JobNotFoundError


def check_job_id(job_id: str, where: str) -> None:
    """Raise :class:`JobNotFoundError` for an id that is not valid UTF-8.

    Python decodes command-line bytes that are not UTF-8 as lone surrogates; every id in
    a store is text, so such an id names no job (and cannot even be sent to a server).
    ``where`` names the store in the message.
    """
    try:
        job_id.encode("utf-8")
    except UnicodeEncodeError:
        raw = job_id.encode("utf-8", "surrogateescape").hex(" ")
        raise JobNotFoundError(
            f"job {job_id!r} not found in {where}: the id is not valid UTF-8 "
            f"(bytes {raw}), and every id in a store is"
        ) from None
