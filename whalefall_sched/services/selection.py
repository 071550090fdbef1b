"""Which jobs a command acts on: ids (or exact names), ``--match`` globs, ``--state``,
``--all`` and ids read from stdin, resolved against one cheap read of the store.

The store's ids and whether each is paused come from
:meth:`JobStoreRepository.job_ids_and_states` (two columns, nothing decoded). Names are
decoded only when a given id is not an id (as :func:`job_ids.find_job` does), and rows
are decoded only for ``--state``, which must tell a paused job from an unreadable one.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from whalefall_sched.errors import InvalidInputError, JobNotFoundError, WhaleFallSchedError
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING
from whalefall_sched.services.job_ids import resolve_given

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository

#: The states ``--state`` selects (an unreadable row is in neither).
SELECTABLE_STATES = {"running": STATE_RUNNING, "paused": STATE_PAUSED}


@dataclass(frozen=True)
class Selection:
    """The jobs a command acts on, in order: the ids given (each once, in the order
    given, a name replaced by its job's id), then the ids ``--match``/``--all`` found,
    sorted.

    ``failed`` holds each given id that names no job (or several), with its error: it
    stays in ``ids`` so that the report says so, and is never acted on.
    """

    ids: list[str]
    failed: dict[str, WhaleFallSchedError] = field(default_factory=dict)

    @property
    def job_ids(self) -> list[str]:
        """The ids that name a job (``ids`` without the failed ones)."""
        return [job_id for job_id in self.ids if job_id not in self.failed]


def describe_selection(
    ids: Sequence[str],
    *,
    patterns: Sequence[str] = (),
    state: str | None = None,
    all_: bool = False,
    stdin_ids: Sequence[str] | None = None,
) -> str:
    """The selection as a command line would give it: ``--match 'sync_*' --state paused``."""
    parts = [shlex.quote(job_id) for job_id in ids]
    if stdin_ids is not None:
        parts.append(f"- ({len(stdin_ids)} id(s) read from stdin)")
    parts += [f"--match {shlex.quote(pattern)}" for pattern in patterns]
    if all_:
        parts.append("--all")
    if state is not None:
        parts.append(f"--state {state}")
    return " ".join(parts)


def select_jobs(
    repository: JobStoreRepository,
    ids: Sequence[str] = (),
    *,
    patterns: Sequence[str] = (),
    state: str | None = None,
    all_: bool = False,
    stdin_ids: Sequence[str] | None = None,
) -> Selection:
    """Resolve a selection against the store.

    - ``ids`` and ``stdin_ids``: each an id, else the exact name of one job; one that
      names no job (or several) is kept with its error in :attr:`Selection.failed`.
      Given alone, they are kept as given, unread (each is found as it is acted on).
    - ``patterns``: every id matching any of them (``fnmatch``, case-sensitive), added
      to the ids given.
    - ``all_``: every job; not with ids or patterns.
    - ``state`` (``running`` or ``paused``): keeps only the jobs in that state (decoded:
      an unreadable row is in no state); alone, every job in that state.

    Raises :class:`InvalidInputError` (exit 2) for ``all_`` with ids or patterns, or for
    nothing selected at all; :class:`JobNotFoundError` (exit 3) when the selection
    matches no job; the store's own errors (not initialised, unreachable).
    """
    given = [*ids, *(stdin_ids or ())]
    if all_ and (given or patterns):
        raise InvalidInputError("--all selects every job: give no ids or --match with it")
    if state is not None and state not in SELECTABLE_STATES:
        raise InvalidInputError(f"--state must be one of {', '.join(SELECTABLE_STATES)}")
    if not (given or patterns or all_ or state is not None or stdin_ids is not None):
        raise InvalidInputError("no job given: give ids, -, --match, --state or --all")
    if patterns or all_ or state is not None:
        selection = _read_selection(repository, given, patterns, state, all_)
    else:
        # Ids alone need no read here: each is found (by id, else by name) as it is
        # acted on, so a store that cannot be read is reported per id, as it always was.
        selection = Selection(list(dict.fromkeys(given)))
    if not selection.ids:
        what = describe_selection(
            ids, patterns=patterns, state=state, all_=all_, stdin_ids=stdin_ids
        )
        raise JobNotFoundError(f"no job matches {what} in {repository.where}")
    return selection


def _read_selection(
    repository: JobStoreRepository,
    given: list[str],
    patterns: Sequence[str],
    state: str | None,
    all_: bool,
) -> Selection:
    """The selection from one read of the store's ids and states (see :func:`select_jobs`)."""
    rows = repository.job_ids_and_states()
    known = {job_id for job_id, _ in rows}
    chosen: dict[str, None] = {}
    failed: dict[str, WhaleFallSchedError] = {}
    for text, outcome in resolve_given(repository, dict.fromkeys(given), known).items():
        if isinstance(outcome, WhaleFallSchedError):
            chosen.setdefault(text, None)
            failed[text] = outcome
        else:
            chosen.setdefault(outcome, None)
    whole_table = all_ or (state is not None and not given and not patterns)
    for job_id, _ in rows:
        if whole_table or any(fnmatch.fnmatchcase(job_id, p) for p in patterns):
            chosen.setdefault(job_id, None)
    if state is not None:
        wanted = SELECTABLE_STATES[state]
        paused = wanted == STATE_PAUSED
        candidates = {job_id for job_id, flag in rows if flag == paused and job_id in chosen}
        in_state = _in_state(repository, candidates, wanted)
        chosen = {j: None for j in chosen if j in in_state or j in failed}
    return Selection(list(chosen), failed)


def _in_state(repository: JobStoreRepository, candidates: set[str], wanted: str) -> set[str]:
    """Those of ``candidates`` whose decoded state is ``wanted``: the rows are read only
    where their ``next_run_time`` column says they may be (as ``list --state`` does)."""
    from whalefall_sched.services.items import job_state_name

    if not candidates:
        return set()
    found: set[str] = set()
    for job in repository.iter_jobs(paused=wanted == STATE_PAUSED):
        if job.id in candidates and job_state_name(job) == wanted:
            found.add(job.id)
    return found
