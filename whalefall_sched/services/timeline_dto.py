"""Result objects of fire-time look-ahead: ``get --next`` and ``timeline``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_UNREADABLE,
    SchedulerJobDetail,
    utc_z,
)


@dataclass(frozen=True)
class JobFireTimes:
    """One job's fire times in a window, as computed from its trigger.

    ``fire_times`` are in the trigger's own zone, as APScheduler computes them (without
    jitter). A paused job's are the times it would fire if resumed. ``capped``: the
    window holds more than were computed; ``problem``: why none (unreadable) or no more
    could be computed (a bounded search ran out); either way the list stops early.
    """

    id: str
    state: str
    fire_times: list[datetime]
    capped: bool = False
    problem: str | None = None
    #: What the operator should know about these times (jitter left out, say).
    notes: list[str] = field(default_factory=list)

    @property
    def paused(self) -> bool:
        """Whether the job is paused (its times are what it would do if resumed)."""
        return self.state == STATE_PAUSED

    @property
    def complete(self) -> bool:
        """Whether every fire time asked for was computed."""
        return not self.capped and self.problem is None

    def iso_times(self) -> list[str]:
        """The fire times as ISO 8601 with their offset."""
        return [t.isoformat() for t in self.fire_times]

    def utc_times(self) -> list[str | None]:
        """The fire times as ``YYYY-MM-DDTHH:MM:SSZ``."""
        return [utc_z(t) for t in self.fire_times]

    def to_dict(self) -> dict[str, Any]:
        """``{id, state, fire_times, fire_times_utc, capped, problem, notes}``."""
        return {
            "id": self.id,
            "state": self.state,
            "fire_times": self.iso_times(),
            "fire_times_utc": self.utc_times(),
            "capped": self.capped,
            "problem": self.problem,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class JobNextFireTimes:
    """``get JOB --next N``: the job's details and its next ``count`` fire times."""

    detail: SchedulerJobDetail
    count: int
    fires: JobFireTimes
    now: datetime

    def note(self) -> str | None:
        """Why the list is not simply the next ``count`` times the job will fire."""
        fires = self.fires
        found = len(fires.fire_times)
        if fires.state == STATE_UNREADABLE:
            return f"no fire times: the job is unreadable ({fires.problem})"
        parts: list[str] = []
        if fires.paused:
            parts.append("the job is paused: these are the times it would fire if resumed")
        if fires.problem is not None:
            parts.append(
                f"only {found} found: {fires.problem}" if found else f"none: {fires.problem}"
            )
        elif found < self.count:
            parts.append(
                f"only {found}: the trigger fires no more after that"
                if found
                else "none: the trigger fires no more"
            )
        parts += fires.notes
        return "; ".join(parts) or None

    def to_dict(self) -> dict[str, Any]:
        """get's document plus ``next_fire_times``, ``next_fire_times_utc`` and a note."""
        return self.detail.to_dict() | self.extra_keys()

    def extra_keys(self) -> dict[str, Any]:
        """The keys ``--next`` adds to get's document."""
        return {
            "next_fire_times": self.fires.iso_times(),
            "next_fire_times_utc": self.fires.utc_times(),
            "next_fire_times_note": self.note(),
        }


@dataclass(frozen=True)
class Collision:
    """Jobs that fire in the same minute (``minute``: its start, in UTC)."""

    minute: datetime
    ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        """``{minute_utc, ids}``."""
        return {"minute_utc": utc_z(self.minute), "ids": list(self.ids)}


@dataclass(frozen=True)
class Timeline:
    """Every job's fire times from ``start`` to ``end`` (``end`` excluded).

    ``jobs`` holds every job sorted by id, unreadable ones too (no times, the reason as
    ``problem``). ``collisions``: minutes in which two or more jobs that are not paused
    fire (a paused job fires nothing). ``zone`` is the zone the window is shown in.
    """

    start: datetime
    end: datetime
    zone: tzinfo
    zone_name: str
    jobs: list[JobFireTimes]
    collisions: list[Collision]
    #: Fire times computed per job, at most.
    cap: int

    @property
    def lanes(self) -> list[JobFireTimes]:
        """The jobs that have a trigger (running or paused)."""
        return [job for job in self.jobs if job.state != STATE_UNREADABLE]

    @property
    def skipped(self) -> list[JobFireTimes]:
        """The unreadable jobs: no trigger to compute from."""
        return [job for job in self.jobs if job.state == STATE_UNREADABLE]

    def to_dict(self) -> dict[str, Any]:
        """``{from, from_utc, to, to_utc, timezone, cap, jobs, collisions}``."""
        return {
            "from": self.start.astimezone(self.zone).isoformat(),
            "from_utc": utc_z(self.start),
            "to": self.end.astimezone(self.zone).isoformat(),
            "to_utc": utc_z(self.end),
            "timezone": self.zone_name,
            "cap": self.cap,
            "jobs": [job.to_dict() for job in self.jobs],
            "collisions": [c.to_dict() for c in self.collisions],
        }
