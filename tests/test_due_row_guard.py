"""Every branch of the due-row guard, on an in-memory store with a fake clock.

The live-scheduler tests (tests/live) prove the guard is wired to real stores and real
schedulers; these prove each decision, in milliseconds, by moving a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from whalefall_sched.errors import StoreConflictError
from whalefall_sched.repository.due_row_guard import (
    POLL_INTERVAL,
    SAFE_GAP,
    STALE_AFTER,
    Attempt,
    DueRowGuard,
)
from whalefall_sched.repository.rows import StoredJob

WAIT = 10.0
SETTLE = 1.0
START = 1_800_000_000.0


def row(job_id: str, next_run_time: float | None, name: str = "job") -> StoredJob:
    """A row whose bytes change with every field, as a real pickle's would."""
    state: dict[str, Any] = {
        "id": job_id,
        "func": "tasks:work",
        "trigger": "interval[0:01:00]",
        "args": (),
        "kwargs": {},
        "name": name,
        "next_run_time": next_run_time,
    }
    return StoredJob(job_id, next_run_time, repr(sorted(state.items())).encode(), state)


@dataclass
class World:
    """A store of rows, a wall clock and a monotonic clock that only ``sleep`` moves."""

    rows: dict[str, StoredJob] = field(default_factory=dict)
    wall: float = START
    mono: float = 0.0
    #: (monotonic time, what happens then): a scheduler moving rows, say.
    events: list[tuple[float, Callable[[], None]]] = field(default_factory=list)
    prepared: int = 0
    writes: int = 0

    def sleep(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds
        for event in [e for e in self.events if e[0] <= self.mono]:
            self.events.remove(event)
            event[1]()

    def at(self, delay: float, what: Callable[[], None]) -> None:
        self.events.append((self.mono + delay, what))

    def guard(self, settle: float = SETTLE) -> DueRowGuard:
        return DueRowGuard(
            self.rows.get,
            wait=WAIT,
            due_margin=2.0,
            settle=settle,
            clock=lambda: self.wall,
            monotonic=lambda: self.mono,
            sleep=self.sleep,
        )

    def change(
        self, job_id: str, new: Callable[[StoredJob], StoredJob], after_write: Callable[[], None]
    ) -> Callable[[], Attempt[StoredJob]]:
        """A compare-and-swap of one row, as ``modify_job`` prepares it."""

        def prepare() -> Attempt[StoredJob]:
            self.prepared += 1
            before = self.rows[job_id]
            after = new(before)

            def write() -> StoredJob | None:
                if self.rows[job_id].job_state != before.job_state:
                    return None
                self.rows[job_id] = after
                self.writes += 1
                after_write()
                return after

            return Attempt([before], write, lambda written: {job_id: written})

        return prepare


def pause(job: StoredJob) -> StoredJob:
    assert job.decoded is not None
    return row(job.id, None, job.decoded["name"])


def gave_up() -> StoreConflictError:
    return StoreConflictError("changed by another process too often")


def run(world: World, job_id: str = "j", **kw: Any) -> tuple[StoredJob, list[str]]:
    after_write: Callable[[], None] = kw.pop("after_write", lambda: None)
    new: Callable[[StoredJob], StoredJob] = kw.pop("new", pause)
    done = world.guard(**kw).run(
        world.change(job_id, new, after_write), attempts=5, gave_up=gave_up
    )
    return done.result, done.notes


def test_a_row_not_due_is_written_at_once() -> None:
    world = World({"j": row("j", START + 60)})
    result, notes = run(world)
    assert result.next_run_time is None
    assert world.rows["j"] == result
    assert (notes, world.mono, world.prepared) == ([], 0.0, 1)


@pytest.mark.parametrize(
    ("next_run_time", "why"),
    [(None, "paused"), (START - STALE_AFTER - 1, "overdue past STALE_AFTER: nobody processes it")],
)
def test_rows_no_scheduler_will_touch_are_not_waited_for(
    next_run_time: float | None, why: str
) -> None:
    world = World({"j": row("j", next_run_time)})
    run(world, new=lambda job: row(job.id, None, "renamed"))
    assert world.mono == 0.0, why
    assert world.rows["j"].decoded is not None
    assert world.rows["j"].decoded["name"] == "renamed"


def test_a_due_row_a_scheduler_moves_on_is_written_right_after_the_move() -> None:
    world = World({"j": row("j", START + 1)})
    world.at(0.7, lambda: world.rows.update(j=row("j", world.wall + 60)))
    result, notes = run(world)
    assert notes == []
    assert result.next_run_time is None and world.rows["j"] == result
    assert world.prepared == 2  # decided again on the moved row
    assert world.mono < 0.7 + 2 * POLL_INTERVAL  # at once, not after --wait


def test_a_scheduler_seen_moving_rows_that_keeps_one_due_is_a_refusal() -> None:
    world = World({"j": row("j", START + 1)})
    # moved on, but only just: due again within SAFE_GAP, and then never moved again
    world.at(0.5, lambda: world.rows.update(j=row("j", world.wall + SAFE_GAP / 2)))
    before_writes = world.writes
    with pytest.raises(StoreConflictError, match=r"kept job\(s\) j due for 10s \(--wait\)"):
        run(world)
    assert world.writes == before_writes
    assert world.mono >= WAIT


def test_a_due_row_nothing_moves_is_written_after_the_wait_with_a_note() -> None:
    world = World({"j": row("j", START + 1)})
    result, notes = run(world)
    assert world.rows["j"] == result and result.next_run_time is None
    assert notes == [
        "job 'j' was due and no running scheduler moved it on within 10s; written anyway"
    ]
    assert world.mono == pytest.approx(WAIT + SETTLE)  # waited, wrote, looked again


def test_a_forced_write_a_scheduler_reverts_is_re_applied() -> None:
    world = World({"j": row("j", START + 1, "job")})
    reverted: list[bool] = []

    def scheduler_writes_back() -> None:
        # update_job of the job the scheduler held in memory: running again
        if not reverted:
            reverted.append(True)
            world.at(0.3, lambda: world.rows.update(j=row("j", world.wall + 60, "job")))

    result, notes = run(world, after_write=scheduler_writes_back)
    assert world.rows["j"] == result and result.next_run_time is None
    assert world.writes == 2
    assert notes[-1] == "job 'j' was rewritten by another process; re-applied"


def test_a_scheduler_that_only_moves_the_written_row_on_is_not_a_revert() -> None:
    world = World({"j": row("j", START + 1, "job")})

    def renamed(job: StoredJob) -> StoredJob:
        return row(job.id, job.next_run_time, "renamed")

    def scheduler_runs_it() -> None:  # ran the renamed job and moved its next run time on
        world.at(0.3, lambda: world.rows.update(j=row("j", world.wall + 60, "renamed")))

    _, notes = run(world, new=renamed, after_write=scheduler_runs_it)
    assert world.writes == 1
    assert not any("re-applied" in n for n in notes)


def test_without_settle_a_forced_write_is_not_looked_at_again() -> None:
    world = World({"j": row("j", START + 1)})
    _, notes = run(world, settle=0)
    assert world.mono == pytest.approx(WAIT)
    assert len(notes) == 1


def test_a_write_that_keeps_losing_its_race_gives_up_after_the_attempts() -> None:
    world = World({"j": row("j", START + 60)})
    renamed = 0

    def other_writer() -> StoredJob:  # changes the row between every read and write
        nonlocal renamed
        renamed += 1
        world.rows["j"] = row("j", START + 60, f"other #{renamed}")
        return world.rows["j"]

    def prepare() -> Attempt[StoredJob]:
        world.prepared += 1
        before = world.rows["j"]
        return Attempt(
            [before], lambda: None if other_writer() is not before else before, lambda _: {}
        )

    with pytest.raises(StoreConflictError, match="too often"):
        world.guard().run(prepare, attempts=5, gave_up=gave_up)
    assert world.prepared == 5


def test_several_due_rows_are_named_in_one_note() -> None:
    world = World({"a": row("a", START + 1), "b": row("b", START + 1.5)})

    def prepare() -> Attempt[dict[str, StoredJob]]:
        current = dict(world.rows)

        def write() -> dict[str, StoredJob]:
            world.rows.update({k: pause(v) for k, v in current.items()})
            return dict(world.rows)

        return Attempt(list(current.values()), write, dict)

    done = world.guard().run(prepare, attempts=5, gave_up=gave_up)
    assert done.notes == [
        "jobs 'a', 'b' were due and no running scheduler moved them on within 10s; written anyway"
    ]


def test_a_no_op_touches_no_row_and_is_returned_at_once() -> None:
    world = World({"j": row("j", START + 1)})
    noop = world.rows["j"]
    done = world.guard().run(lambda: Attempt([], lambda: noop), attempts=5, gave_up=gave_up)
    assert done.result is noop and done.notes == [] and world.mono == 0.0
