"""A trigger's next fire time, searched with bounded work.

APScheduler's cron search walks field by field until it finds a match or passes year
9999: a cron expression that can never fire (``day=31, month=2``) walks to the end,
and some (``month='2-11', week=1``) take minutes. A combining ``and`` trigger whose
children never agree loops for ever. Here every search counts its steps and stops at a
limit with :class:`FireTimeSearchLimitError`, which names the limit.

A step is one cron field expression checked, or one call of a combined trigger's
child; a trigger that fires at all usually needs well under a hundred.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: Steps one trigger's search may take.
TRIGGER_STEPS = 10_000
#: Steps all the searches of one tasks file may take together.
FILE_STEPS = 200_000


class FireTimeSearchLimitError(ValueError):
    """A fire-time search took more steps than its limit; the message names the limit."""


class FireTimeSearch:
    """Runs fire-time searches against one budget of ``steps``, shared by all of them.

    ``budget_name`` names the shared budget in messages (``the tasks file's``).
    """

    def __init__(self, steps: int = TRIGGER_STEPS, *, budget_name: str = "this") -> None:
        self.steps = steps
        self.steps_left = steps
        self._budget_name = budget_name
        self._limit = TRIGGER_STEPS
        self._spent = 0
        self._reached: datetime | None = None

    def next_fire_time(
        self,
        trigger: Any,
        now: datetime,
        previous: datetime | None = None,
        *,
        limit: int = TRIGGER_STEPS,
    ) -> datetime | None:
        """``trigger.get_next_fire_time(previous, now)`` in at most ``limit`` steps.

        Raises :class:`FireTimeSearchLimitError` when this search's limit or the shared
        budget runs out first.
        """
        self._limit, self._spent, self._reached = limit, 0, None
        result: datetime | None = _counted(trigger, self).get_next_fire_time(previous, now)
        return result

    def spend(self, steps: int, reached: datetime | None = None) -> None:
        """Take ``steps`` from the budget; ``reached`` is the date the search is at."""
        if reached is not None:
            self._reached = reached
        self._spent += steps
        self.steps_left -= steps
        where = f" (it had reached {self._reached:%Y-%m-%d})" if self._reached else ""
        if self._spent > self._limit:
            raise FireTimeSearchLimitError(
                f"no fire time found within the search limit of {self._limit:,} steps"
                f"{where}: the trigger may never fire"
            )
        if self.steps_left < 0:
            raise FireTimeSearchLimitError(
                f"no fire time found before {self._budget_name} fire-time search budget of "
                f"{self.steps:,} steps ran out{where}"
            )


def next_fire_time(
    trigger: Any, now: datetime, previous: datetime | None = None
) -> datetime | None:
    """One trigger's next fire time, in at most :data:`TRIGGER_STEPS` steps."""
    return FireTimeSearch().next_fire_time(trigger, now, previous)


class _CountedField:
    """A cron field whose ``get_next_value`` spends one step per expression checked."""

    def __init__(self, field: Any, search: FireTimeSearch) -> None:
        self._field = field
        self._search = search
        self._cost = max(1, len(getattr(field, "expressions", ())))
        self.REAL = field.REAL
        self.name = field.name
        self.get_value = field.get_value
        self.get_min = field.get_min
        self.get_max = field.get_max

    def get_next_value(self, dateval: datetime) -> Any:
        self._search.spend(self._cost, dateval)
        return self._field.get_next_value(dateval)


class _CountedChild:
    """A combined trigger's child: one step per call, and its own search counted."""

    def __init__(self, trigger: Any, search: FireTimeSearch) -> None:
        self._trigger = _counted(trigger, search)
        self._search = search

    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime | None:
        self._search.spend(1, now)
        result: datetime | None = self._trigger.get_next_fire_time(previous, now)
        return result


def _counted(trigger: Any, search: FireTimeSearch) -> Any:
    """A copy of ``trigger`` whose search spends steps of ``search``."""
    from apscheduler.triggers.combining import BaseCombiningTrigger
    from apscheduler.triggers.cron import CronTrigger

    if isinstance(trigger, CronTrigger):
        cron = object.__new__(CronTrigger)
        for slot in ("timezone", "start_date", "end_date", "jitter"):
            setattr(cron, slot, getattr(trigger, slot))
        cron.fields = [_CountedField(field, search) for field in trigger.fields]
        return cron
    if isinstance(trigger, BaseCombiningTrigger):
        combined = object.__new__(type(trigger))
        combined.jitter = trigger.jitter
        combined.triggers = [_CountedChild(child, search) for child in trigger.triggers]
        return combined
    search.spend(1)  # interval, date, calendar interval: a bounded computation
    return trigger
