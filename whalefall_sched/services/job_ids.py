"""Job ids given on a command line: ids no store can match as given, and a job's name
accepted where its id is (the id always wins), with the nearest ids suggested for an
unknown one."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from whalefall_sched.errors import AmbiguousJobNameError, JobNotFoundError

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository, StoredJob

_T = TypeVar("_T")


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


#: At most this many ids are suggested for an unknown one.
SUGGESTIONS = 3
#: How near an id must be to be suggested (``difflib.get_close_matches``' default).
CUTOFF = 0.6


def find_job(repository: JobStoreRepository, given: str) -> StoredJob:
    """The row whose id is ``given``, else the one job named ``given`` (see
    :func:`resolve_name`). The id always wins over a name."""
    check_job_id(given, repository.where)
    try:
        return repository.get_job(given)
    except JobNotFoundError as exc:
        return repository.get_job(resolve_name(repository, given, exc))


def by_id_or_name(repository: JobStoreRepository, given: str, act: Callable[[str], _T]) -> _T:
    """``act(given)``; when no job has that id, ``act`` on the id of the one job named
    ``given`` (see :func:`resolve_name`). ``act`` must raise :class:`JobNotFoundError`
    before it changes anything, as the repository's reads and writes do."""
    check_job_id(given, repository.where)
    try:
        return act(given)
    except JobNotFoundError as exc:
        return act(resolve_name(repository, given, exc))


def resolve_name(repository: JobStoreRepository, given: str, not_found: JobNotFoundError) -> str:
    """The id of the one job named exactly ``given``, no job having ``given`` as its id.

    Names are read by decoding every row, so this runs only once the id is not found;
    a row that cannot be decoded is matched by its id only. Raises
    :class:`AmbiguousJobNameError` (exit 2) listing the ids when several jobs have that
    name, and ``not_found`` again, with the nearest ids as ``suggestions``, when none has.
    """
    ids: list[str] = []
    named: list[str] = []
    for job in repository.list_jobs(missing_ok=True):
        ids.append(job.id)
        if job.decoded is not None and job.decoded.get("name") == given:
            named.append(job.id)
    if len(named) == 1:
        return named[0]
    where = repository.where
    if named:
        named.sort()
        raise AmbiguousJobNameError(
            f"{len(named)} jobs in {where} are named {given!r}: {', '.join(named)}; "
            "give one of their ids",
            named,
        ) from None
    near = nearest_ids(given, ids)
    if not near:
        raise not_found
    raise JobNotFoundError(
        f"job {given!r} not found in {where}. Did you mean: {', '.join(near)}?", near
    ) from None


def nearest_ids(given: str, ids: list[str]) -> list[str]:
    """At most :data:`SUGGESTIONS` of ``ids`` near ``given`` (``difflib``'s ratio of at
    least 0.6, as ``get_close_matches``), nearest first, equally near ones in id order;
    letter case ignored: ``SYNC_ACOUNTS`` finds ``sync_accounts``."""
    by_folded: dict[str, list[str]] = {}
    for job_id in ids:
        by_folded.setdefault(job_id.casefold(), []).append(job_id)
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(given.casefold())
    scored: list[tuple[float, str]] = []
    for key in by_folded:
        matcher.set_seq1(key)
        if matcher.real_quick_ratio() >= CUTOFF and matcher.quick_ratio() >= CUTOFF:
            ratio = matcher.ratio()
            if ratio >= CUTOFF:
                scored.append((-ratio, key))
    scored.sort()
    return [job_id for _, key in scored for job_id in sorted(by_folded[key])][:SUGGESTIONS]
