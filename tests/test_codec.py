"""The restricted job_state codec: real states decode, foreign code never runs."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import re
import uuid
from collections import OrderedDict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytz
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tests.conftest import StockStore
from whalefall_sched.repository.codec import UnreadableStateError, decode_state, encode_state

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
CRON_REF = b"apscheduler.triggers.cron:CronTrigger"
FUTURE = dt.datetime(2031, 3, 4, 5, 6, 7)


class Custom:
    """A class of the test suite: importable, but not something a job state may hold."""

    def __init__(self, value: int = 1) -> None:
        self.value = value


class Evil:
    """A 'trigger' whose rebuild has a side effect (records itself in CALLS)."""

    CALLS: list[Any] = []  # noqa: RUF012 - shared on purpose: a side effect to observe

    def __setstate__(self, state: Any) -> None:
        Evil.CALLS.append(state)


class _Reduce:
    """Pickles as ``func(*args)``: what a crafted row looks like."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def _state(**changes: Any) -> dict[str, Any]:
    """A minimal but complete APScheduler 3 job state."""
    state: dict[str, Any] = {
        "version": 1,
        "id": "job",
        "func": "tests.jobs:noop",
        "trigger": IntervalTrigger(minutes=5, timezone=ZoneInfo("UTC")),
        "executor": "default",
        "args": (),
        "kwargs": {},
        "name": "noop",
        "misfire_grace_time": 300,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": None,
    }
    state.update(changes)
    return state


def _trusted_load(data: bytes) -> Any:
    """Plain pickle, only ever on bytes these tests wrote themselves."""
    return pickle.loads(data)


def _canonical(value: Any) -> bytes:
    """Comparable bytes of a decoded state (triggers have no ``__eq__``)."""
    return pickle.dumps(value, 4)


@pytest.fixture
def real_states(sqlite_stock: StockStore) -> dict[str, dict[str, Any]]:
    """Job states as stock APScheduler wrote them, one per kind of trigger and zone."""
    shanghai = pytz.timezone("Asia/Shanghai")
    sqlite_stock.add(
        dict(
            func="tests.jobs:record",
            trigger="cron",
            id="cron_week_year",
            week="10-20",
            year="2030-2032",
            day_of_week="mon-fri",
            hour="3,15",
            minute="*/15",
            timezone=shanghai,
            args=[1, "two", 3.5, None, True],
            kwargs={
                "when": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                "day": dt.date(2030, 1, 2),
                "at": dt.time(3, 4),
                "delta": dt.timedelta(hours=1),
                "money": Decimal("12.50"),
                "uid": uuid.UUID(int=7),
                "tags": {"a", "b"},
                "frozen": frozenset({1, 2}),
                "raw": b"\x00\xff",
                "buf": bytearray(b"ab"),
                "z": complex(1, 2),
                "ordered": OrderedDict([("x", 1), ("y", 2)]),
                "nested": {"list": [1, [2, {"three": (3,)}]]},
            },
        ),
        dict(
            func="tests.jobs:noop",
            trigger=IntervalTrigger(hours=2, timezone=ZoneInfo("America/New_York")),
            id="interval_zoneinfo",
        ),
        dict(
            func="tests.jobs:noop",
            trigger=DateTrigger(
                FUTURE.replace(tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30), "IST"))
            ),
            id="date_fixed",
        ),
        dict(
            func="tests.jobs:noop",
            trigger=CalendarIntervalTrigger(
                months=1,
                hour=4,
                start_date=dt.date(2031, 1, 1),
                timezone=pytz.timezone("Europe/Berlin"),
            ),
            id="calendar_pytz",
        ),
        dict(
            func="tests.jobs:noop",
            trigger=OrTrigger(
                [CronTrigger(hour=1, timezone=pytz.utc), CronTrigger(hour=2, timezone=pytz.utc)]
            ),
            id="or",
        ),
        dict(
            func="tests.jobs:noop",
            trigger=AndTrigger(
                [
                    OrTrigger(
                        [
                            CronTrigger(day_of_week="mon", hour=3, timezone="UTC"),
                            CronTrigger(day_of_week="tue", hour=3, timezone="UTC"),
                        ]
                    ),
                    CronTrigger(day="1-7", hour=3, timezone="UTC"),
                ]
            ),
            id="and_nested",
        ),
        dict(
            func="tests.jobs:record",
            trigger=DateTrigger(shanghai.localize(FUTURE)),
            id="date_pytz",
            kwargs={
                "fixed": dt.datetime(2030, 1, 1, tzinfo=pytz.FixedOffset(330)),
                "utc": dt.datetime(2030, 1, 1, tzinfo=pytz.utc),
                "berlin": pytz.timezone("Europe/Berlin").localize(FUTURE),
            },
        ),
        dict(
            func="tests.jobs:noop",
            trigger=CronTrigger(day="2nd fri", month="jan-mar", timezone=dt.UTC),
            id="paused",
            next_run_time=None,
        ),
    )
    return {job_id: _trusted_load(state) for job_id, (_, state) in sqlite_stock.raw().items()}


# -- real states ------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_real_states_decode_in_every_pickle_protocol(
    real_states: dict[str, dict[str, Any]], protocol: int
) -> None:
    assert len(real_states) == 8
    for job_id, original in real_states.items():
        decoded = decode_state(pickle.dumps(original, protocol))
        assert decoded["id"] == job_id
        assert _canonical(decoded) == _canonical(original), job_id
        assert type(decoded["trigger"]) is type(original["trigger"])
        assert str(decoded["trigger"]) == str(original["trigger"])


def test_decoded_triggers_compute_the_same_fire_times(
    real_states: dict[str, dict[str, Any]],
) -> None:
    now = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
    for original in real_states.values():
        decoded = decode_state(pickle.dumps(original))
        assert decoded["trigger"].get_next_fire_time(None, now) == original[
            "trigger"
        ].get_next_fire_time(None, now)


def test_decoded_values_keep_their_types(real_states: dict[str, dict[str, Any]]) -> None:
    state = real_states["cron_week_year"]
    decoded = decode_state(pickle.dumps(state))
    assert decoded["args"] == (1, "two", 3.5, None, True)
    assert decoded["kwargs"] == state["kwargs"]
    assert decoded["kwargs"]["money"] == Decimal("12.50")
    assert isinstance(decoded["kwargs"]["ordered"], OrderedDict)
    assert decoded["trigger"].timezone == ZoneInfo("Asia/Shanghai")


def test_pytz_zones_decode_as_pytz(real_states: dict[str, dict[str, Any]]) -> None:
    decoded = decode_state(pickle.dumps(real_states["date_pytz"]))
    assert decoded["trigger"].run_date.tzinfo.zone == "Asia/Shanghai"
    assert decoded["next_run_time"] == pytz.timezone("Asia/Shanghai").localize(FUTURE)
    assert decoded["kwargs"]["fixed"].utcoffset() == dt.timedelta(minutes=330)
    assert decoded["kwargs"]["utc"].tzinfo is pytz.utc
    assert decoded["kwargs"]["berlin"].tzinfo.zone == "Europe/Berlin"


def test_encode_state_round_trips(real_states: dict[str, dict[str, Any]]) -> None:
    for original in real_states.values():
        assert _canonical(decode_state(encode_state(original))) == _canonical(original)


def test_a_state_without_version_counts_as_version_1() -> None:
    state = _state()
    del state["version"]
    assert decode_state(pickle.dumps(state))["id"] == "job"


def test_a_task_module_that_does_not_exist_is_not_needed() -> None:
    state = _state(func="no_such_module_anywhere.sub:Holder.run")
    assert decode_state(pickle.dumps(state))["func"] == "no_such_module_anywhere.sub:Holder.run"


# -- unreadable states ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "corrupt job_state", id="empty"),
        pytest.param(b"not a pickle at all", "corrupt job_state", id="text"),
        pytest.param(pickle.dumps(_state())[:-10], "corrupt job_state", id="truncated"),
        pytest.param(b"\x80\x05\xff\xfe\xfd", "corrupt job_state", id="bad-opcode"),
        pytest.param(pickle.dumps(["id", "func"]), "holds a list, not a dict", id="list"),
        pytest.param(pickle.dumps({"id": "x"}), "lacks func, trigger", id="missing-keys"),
        pytest.param(pickle.dumps(_state(version=2)), "version 2 is newer than 1", id="v2"),
        pytest.param(pickle.dumps(_state(version="1")), "version '1' is newer", id="v-str"),
    ],
)
def test_malformed_states_are_unreadable(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableStateError, match=reason):
        decode_state(data)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("value", "forbidden"),
    [
        pytest.param(Fraction(1, 3), "fractions.Fraction", id="fraction"),
        pytest.param(Custom(), "tests.test_codec.Custom", id="custom-class"),
        pytest.param(Path("/tmp"), "pathlib", id="path"),
    ],
)
def test_classes_outside_the_allowed_set_are_refused(
    value: Any, forbidden: str, protocol: int
) -> None:
    data = pickle.dumps(_state(kwargs={"value": value}), protocol)
    with pytest.raises(UnreadableStateError, match=f"class {forbidden}.* is not allowed"):
        decode_state(data)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_decimal_is_allowed(protocol: int) -> None:
    data = pickle.dumps(_state(kwargs={"amount": Decimal("-0.125")}), protocol)
    assert decode_state(data)["kwargs"] == {"amount": Decimal("-0.125")}


# -- crafted rows: code must not run ----------------------------------------------------


def _touch_payloads(target: Path) -> dict[str, _Reduce]:
    """Objects whose unpickling would create ``target``."""
    return {
        "os.system": _Reduce(os.system, f"touch {target}"),
        "builtins.open": _Reduce(open, str(target), "w"),
        "builtins.exec": _Reduce(exec, f"open({str(target)!r}, 'w').close()"),
        "builtins.eval": _Reduce(eval, f"open({str(target)!r}, 'w').close()"),
        "pathlib.touch": _Reduce(Path.touch, Path(target)),
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "kind", ["os.system", "builtins.open", "builtins.exec", "builtins.eval", "pathlib.touch"]
)
def test_crafted_payload_does_not_run(tmp_path: Path, kind: str, protocol: int) -> None:
    live = tmp_path / "live-canary"
    canary = tmp_path / "canary"
    # The payload is real: plain pickle runs it.
    _trusted_load(pickle.dumps(_state(args=(_touch_payloads(live)[kind],)), protocol))
    assert live.exists()

    for where in ("args", "kwargs", "trigger", "top"):
        payload = _touch_payloads(canary)[kind]
        if where == "args":
            state: Any = _state(args=(payload,))
        elif where == "kwargs":
            state = _state(kwargs={"x": payload})
        elif where == "trigger":
            state = _state(trigger=payload)
        else:
            state = payload
        with pytest.raises(UnreadableStateError, match="is not allowed in a job state"):
            decode_state(pickle.dumps(state, protocol))
        assert not canary.exists(), where


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_getattr_reaches_only_zoneinfo_unpickle(protocol: int) -> None:
    escapes = [
        _Reduce(getattr, object, "__subclasses__"),
        _Reduce(getattr, ZoneInfo, "from_file"),
        _Reduce(getattr, dt.datetime, "now"),
    ]
    for escape in escapes:
        with pytest.raises(UnreadableStateError, match=r"attribute .* is not allowed"):
            decode_state(pickle.dumps(_state(kwargs={"x": escape}), protocol))


def _combining_state(child: bytes) -> bytes:
    """A protocol-0 job state whose AndTrigger names ``child`` as its first child's class."""
    trigger = AndTrigger(
        [CronTrigger(hour=1, timezone="UTC"), OrTrigger([CronTrigger(hour=1, timezone="UTC")])]
    )
    data = pickle.dumps(_state(trigger=trigger), 0)
    # Protocol 0 writes strings as newline-terminated text, so a swap keeps it valid.
    assert data.count(CRON_REF) == 2
    return data.replace(CRON_REF, child, 1)


@pytest.mark.parametrize(
    "child",
    [b"tests.test_codec:Evil", b"os:system", b"builtins:eval", b"apscheduler.util:ref_to_obj"],
)
def test_combining_trigger_child_outside_apscheduler_triggers_is_refused(child: bytes) -> None:
    Evil.CALLS.clear()
    if child == b"tests.test_codec:Evil":
        # The payload is real: stock APScheduler would import and rebuild the child.
        _trusted_load(_combining_state(child))
        assert len(Evil.CALLS) == 1
        Evil.CALLS.clear()
    with pytest.raises(UnreadableStateError, match=re.escape(f"trigger class {child.decode()!r}")):
        decode_state(_combining_state(child))
    assert Evil.CALLS == []


def test_nested_combining_trigger_child_is_checked_too() -> None:
    Evil.CALLS.clear()
    trigger = AndTrigger(
        [OrTrigger([CronTrigger(hour=1, timezone="UTC")]), CronTrigger(hour=1, timezone="UTC")]
    )
    data = pickle.dumps(_state(trigger=trigger), 0)
    # The first CronTrigger reference in the pickle is the nested OrTrigger's child.
    crafted = data.replace(CRON_REF, b"tests.test_codec:Evil", 1)
    _trusted_load(crafted)
    assert len(Evil.CALLS) == 1
    Evil.CALLS.clear()
    with pytest.raises(UnreadableStateError, match=re.escape("tests.test_codec:Evil")):
        decode_state(crafted)
    assert Evil.CALLS == []


class _CraftedCombining:
    """Pickles as an OrTrigger rebuilt from a hand-written state."""

    def __init__(self, triggers: Any) -> None:
        self.triggers = triggers

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        state = {"version": 1, "triggers": self.triggers, "jitter": None}
        return OrTrigger, ([],), state


@pytest.mark.parametrize(
    "children",
    [
        pytest.param([["apscheduler.triggers.cron:CronTrigger", {}]], id="list-entry"),
        pytest.param([("apscheduler.triggers.cron:CronTrigger",)], id="short-tuple"),
        pytest.param(["apscheduler.triggers.cron:CronTrigger"], id="bare-ref"),
    ],
)
def test_combining_trigger_with_malformed_children_is_unreadable(children: Any) -> None:
    data = pickle.dumps(_state(trigger=_CraftedCombining(children)), 4)
    with pytest.raises(UnreadableStateError):
        decode_state(data)


def test_crafted_combining_trigger_with_valid_children_decodes() -> None:
    child = CronTrigger(hour=4, timezone="UTC")
    crafted = _CraftedCombining([("apscheduler.triggers.cron:CronTrigger", child.__getstate__())])
    decoded = decode_state(pickle.dumps(_state(trigger=crafted), 4))
    assert type(decoded["trigger"]) is OrTrigger
    assert str(decoded["trigger"]) == "or[cron[hour='4']]"
