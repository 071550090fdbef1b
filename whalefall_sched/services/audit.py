"""The audit trail: who a write is recorded as, and the events ``log`` shows.

Every write passes an :class:`~whalefall_sched.repository.audit.AuditEntry` made by
:meth:`Audit.entry` to the repository, which records it in the write's own transaction
(``repository/audit.py``). Adding an event to a new write is one argument:
``event=self._audit.entry("delete")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from whalefall_sched.errors import InvalidInputError
from whalefall_sched.repository.audit import MAX_ACTOR, MAX_REASON, AuditEntry, AuditRow
from whalefall_sched.services.dto import _Dict, iso

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository

#: How many events ``log`` shows by default.
DEFAULT_LIMIT = 50
_SPAN = re.compile(r"(?P<count>\d{1,6})(?P<unit>[smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def default_actor() -> str:
    """``<OS user>@<hostname>``; the user's id where the system has no name for it."""
    import getpass
    import os
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"[:MAX_ACTOR]


def text_problem(value: str, *, limit: int) -> str | None:
    """Why ``value`` cannot be recorded as a reason or an actor, or None."""
    if len(value) > limit:
        return f"longer than {limit} characters"
    if not value.isprintable():
        return "holds a control or invisible character"
    return None


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``7d``, ``24h``, ``30m``, ``2w`` ago, or an ISO 8601 time (UTC when it has no offset)."""
    text = value.strip()
    match = _SPAN.fullmatch(text)
    if match:
        span = timedelta(**{_UNITS[match["unit"]]: int(match["count"])})
        return (now or datetime.now(UTC)) - span
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"--since {value!r}: want a span such as 7d, 24h or 30m, or an ISO 8601 time"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Audit:
    """Who the writes of this invocation are recorded as, and why (``--actor``, ``--reason``)."""

    actor: str = field(default_factory=default_actor)
    reason: str | None = None

    def entry(self, command: str, **detail: Any) -> AuditEntry:
        """The event of a ``command``, with any facts the caller knows."""
        return AuditEntry(command, self.actor, self.reason, detail)


@dataclass(frozen=True)
class AuditEvent(_Dict):
    """One event as ``log`` shows it."""

    TIME_FIELDS = ("at",)

    at: str
    actor: str
    command: str
    #: The ids of the jobs the write changed (at most 100; the detail counts them all).
    id: list[str]
    outcome: str
    reason: str | None
    #: A compact before/after of what changed.
    detail: dict[str, Any]
    seq: int = 0

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEvent:
        """The event of a stored row."""
        return cls(
            at=iso(row.at) or "",
            actor=row.actor,
            command=row.command,
            id=list(row.job_ids),
            outcome=row.outcome,
            reason=row.reason,
            detail=dict(row.detail),
            seq=row.seq,
        )


@dataclass(frozen=True)
class AuditLog(_Dict):
    """``log``'s result: events newest first; ``audited`` False on a store without an
    audit table (then there are none, and a note says why)."""

    events: list[AuditEvent]
    audited: bool = True
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"events": [...], "audited": ..., "notes": [...]}``."""
        return {
            "events": [event.to_dict() for event in self.events],
            "audited": self.audited,
            "notes": list(self.notes),
        }


#: The note of a store with no audit table.
NO_AUDIT_NOTE = "no audit table in this store yet: no write of this tool has been recorded"


def audit_log(
    repository: JobStoreRepository,
    *,
    job_id: str | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> AuditLog:
    """The store's events (of ``job_id``, since ``since``), newest first, at most ``limit``.
    Read-only: a store without an audit table has none."""
    if limit < 1:
        raise InvalidInputError("--limit must be at least 1")
    rows = repository.audit_events(job_id=job_id, since=since, limit=limit)
    if rows is None:
        return AuditLog([], audited=False, notes=[NO_AUDIT_NOTE])
    return AuditLog([AuditEvent.from_row(row) for row in rows])


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_ACTOR",
    "MAX_REASON",
    "Audit",
    "AuditEvent",
    "AuditLog",
    "audit_log",
    "default_actor",
    "parse_since",
    "text_problem",
]
