"""Job ids given on a command line: ids no store can match as given, and a job's name
accepted where its id is (the id always wins), with the nearest ids suggested for an
unknown one."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, TypeVar

from whalefall_sched.errors import AmbiguousJobNameError, JobNotFoundError, WhaleFallSchedError

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
    return _resolve_in(_names(repository), repository.where, given, not_found)


def resolve_given(
    repository: JobStoreRepository, given: Iterable[str], known: Collection[str]
) -> dict[str, str | WhaleFallSchedError]:
    """Each of ``given`` (ids or exact names) mapped to its job's id, or to the error
    :func:`find_job` would raise for it (not UTF-8, unknown with the nearest ids
    suggested, a name several jobs share).

    ``known`` is the store's ids (``job_ids_and_states``): a given id among them costs
    nothing; for the others the rows are decoded once, for their names, however many
    there are.
    """
    resolved: dict[str, str | WhaleFallSchedError] = {}
    missing: dict[str, JobNotFoundError] = {}
    for text in given:
        if text in known:
            resolved[text] = text
            continue
        try:
            check_job_id(text, repository.where)
        except JobNotFoundError as exc:
            resolved[text] = exc
            continue
        try:
            resolved[text] = repository.get_job(text).id
        except JobNotFoundError as exc:
            missing[text] = exc
    if missing:
        names = _names(repository)
        for text, not_found in missing.items():
            try:
                resolved[text] = _resolve_in(names, repository.where, text, not_found)
            except WhaleFallSchedError as exc:
                resolved[text] = exc
    return {text: resolved[text] for text in given}


def _names(repository: JobStoreRepository) -> list[tuple[str, object]]:
    """Every job's id and decoded name (None for a row that cannot be decoded)."""
    return [
        (job.id, None if job.decoded is None else job.decoded.get("name"))
        for job in repository.list_jobs(missing_ok=True)
    ]


def _resolve_in(
    names: list[tuple[str, object]], where: str, given: str, not_found: JobNotFoundError
) -> str:
    """:func:`resolve_name` over ids and names already read."""
    ids = [job_id for job_id, _ in names]
    named = [job_id for job_id, name in names if name is not None and name == given]
    if len(named) == 1:
        return named[0]
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
