"""The restricted job_state codec: real states decode, foreign code never runs."""

from __future__ import annotations

import codecs
import copyreg
import datetime as dt
import os
import pickle
import re
import struct
import subprocess
import sys
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
from apscheduler.triggers.cron.expressions import (
    AllExpression,
    LastDayOfMonthExpression,
    RangeExpression,
    WeekdayPositionExpression,
)
from apscheduler.triggers.cron.fields import BaseField, DayOfMonthField, WeekField
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
    """Comparable bytes of a decoded state (triggers have no ``__eq__``).

    Sets are sorted first: two equal sets built in a different order can iterate,
    and so pickle, differently.
    """

    def ordered(item: Any) -> Any:
        if isinstance(item, set | frozenset):
            return (type(item).__name__, sorted((ordered(i) for i in item), key=repr))
        if isinstance(item, dict):
            return type(item)((k, ordered(v)) for k, v in item.items())
        if isinstance(item, list | tuple):
            return type(item)(ordered(i) for i in item)
        return item

    return pickle.dumps(ordered(value), 4)


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


# -- crafted rows: nothing outside the row may change -------------------------------------

FIELDS = b"apscheduler.triggers.cron.fields"
PYTZ_P: Any = pytz._p  # type: ignore[attr-defined]  # pytz's unpickling helper
BUILT_CLASSES = (
    BaseField,
    WeekField,
    DayOfMonthField,
    AllExpression,
    RangeExpression,
    WeekdayPositionExpression,
    LastDayOfMonthExpression,
    CronTrigger,
)


def _global(module: bytes, name: bytes) -> bytes:
    return b"c" + module + b"\n" + name + b"\n"


def _str(text: bytes) -> bytes:
    return b"X" + struct.pack("<I", len(text)) + text


def _then_real_state(prefix: bytes) -> bytes:
    """``prefix`` (which leaves nothing on the stack) followed by a valid job state."""
    return prefix + pickle.dumps(_state(trigger=CronTrigger(hour=3, timezone="UTC")), 2)


def _build_on(target: bytes, state: bytes) -> bytes:
    """A row that first runs BUILD on ``target`` with ``state``, then holds a valid state."""
    return _then_real_state(b"\x80\x02" + target + state + b"b0")


def _class_vars() -> list[dict[str, Any]]:
    return [dict(vars(cls)) for cls in BUILT_CLASSES]


POISON = _build_on(
    _global(FIELDS, b"BaseField"),
    b"N}" + _str(b"__str__") + _global(b"pytz", b"_UTC") + b"s\x86",
)


def test_the_class_poisoning_row_is_real() -> None:
    # In a separate process: plain pickle replaces BaseField.__str__ for good.
    script = (
        "import pickle, sys, pytz\n"
        "from apscheduler.triggers.cron.fields import BaseField\n"
        "state = pickle.loads(sys.stdin.buffer.read())\n"
        "print(state['id'], BaseField.__str__ is pytz._UTC)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=POISON, capture_output=True, check=True
    )
    assert done.stdout.decode().split() == ["job", "True"]


def test_class_poisoning_row_is_unreadable_and_changes_nothing() -> None:
    before = _class_vars()
    with pytest.raises(
        UnreadableStateError,
        match=re.escape("setting attributes of class apscheduler.triggers.cron.fields.BaseField"),
    ):
        decode_state(POISON)
    assert _class_vars() == before
    decoded = decode_state(pickle.dumps(_state(trigger=CronTrigger(hour=3, timezone="UTC"))))
    assert str(decoded["trigger"]) == "cron[hour='3']"


@pytest.mark.parametrize(
    ("target", "state"),
    [
        pytest.param(
            _global(FIELDS, b"BaseField"), b"N}" + _str(b"REAL") + b"\x89s\x86", id="slot-plain"
        ),
        pytest.param(_global(FIELDS, b"BaseField"), b"}" + _str(b"REAL") + b"\x89s", id="dict"),
        pytest.param(
            _global(b"apscheduler.triggers.cron.expressions", b"AllExpression"),
            b"N}" + _str(b"value_re") + b"Ns\x86",
            id="expression",
        ),
        pytest.param(
            _global(b"apscheduler.triggers.cron", b"CronTrigger"),
            b"N}" + _str(b"FIELD_NAMES") + b")s\x86",
            id="trigger",
        ),
        pytest.param(
            _global(b"apscheduler.triggers.combining", b"OrTrigger"),
            b"N}" + _str(b"get_next_fire_time") + b"Ns\x86",
            id="combining",
        ),
    ],
)
def test_build_on_a_class_is_refused(target: bytes, state: bytes) -> None:
    before = _class_vars()
    with pytest.raises(UnreadableStateError, match="setting attributes of class apscheduler"):
        decode_state(_build_on(target, state))
    assert _class_vars() == before


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        pytest.param(_global(b"pytz", b"_p"), "callable _p", id="function"),
        pytest.param(
            _global(b"builtins", b"getattr"), "callable _restricted_getattr", id="getattr"
        ),
        pytest.param(_global(b"_codecs", b"encode"), "callable _codecs_encode", id="stand-in"),
        pytest.param(
            _global(b"builtins", b"getattr")
            + _global(b"zoneinfo", b"ZoneInfo")
            + _str(b"_unpickle")
            + b"\x86R",
            "callable ZoneInfo._unpickle",
            id="bound-classmethod",
        ),
        pytest.param(_global(b"pytz", b"_UTC") + b")R", "time zone UTC", id="pytz-utc-singleton"),
        pytest.param(
            _global(b"pytz", b"_p") + _str(b"Europe/Berlin") + b"\x85R",
            "time zone Europe/Berlin",
            id="pytz-cached-zone",
        ),
        pytest.param(
            _global(b"zoneinfo._zoneinfo", b"ZoneInfo") + _str(b"UTC") + b"\x85R",
            "time zone UTC",
            id="cached-zoneinfo",
        ),
    ],
)
def test_build_on_functions_and_shared_zones_is_refused(target: bytes, kind: str) -> None:
    before = (dict(vars(pytz.utc)), dict(vars(PYTZ_P)), pytz.timezone("Europe/Berlin").zone)
    with pytest.raises(UnreadableStateError, match=f"setting attributes of {kind}"):
        decode_state(_build_on(target, b"}" + _str(b"zone") + _str(b"Mars/Olympus") + b"s"))
    after = (dict(vars(pytz.utc)), dict(vars(PYTZ_P)), pytz.timezone("Europe/Berlin").zone)
    assert after == before


@pytest.mark.parametrize("key", [b"__class__", b"__setstate__", b"__dict__", b"__reduce_ex__"])
@pytest.mark.parametrize("slot", [True, False], ids=["slot-state", "dict-state"])
def test_build_with_a_dunder_key_is_refused(key: bytes, slot: bool) -> None:
    fresh = (
        _global(b"copyreg", b"_reconstructor")
        + _global(b"apscheduler.triggers.cron.expressions", b"AllExpression")
        + _global(b"builtins", b"object")
        + b"N\x87R"
    )
    pairs = b"}" + _str(key) + _global(FIELDS, b"BaseField") + b"s"
    state = b"N" + pairs + b"\x86" if slot else pairs
    with pytest.raises(UnreadableStateError, match=re.escape(f"state key {key.decode()!r}")):
        decode_state(_build_on(fresh, state))


@pytest.mark.parametrize(
    ("opcodes", "refused"),
    [
        pytest.param(_str(b"REAL") + b"\x89s", "SETITEM on a type", id="setitem"),
        pytest.param(b"(" + _str(b"REAL") + b"\x89u", "SETITEMS on a type", id="setitems"),
        pytest.param(b"Na", "APPEND on a type", id="append"),
        pytest.param(b"(Ne", "APPENDS on a type", id="appends"),
        pytest.param(b"(N\x90", "ADDITEMS on a type", id="additems"),
    ],
)
def test_container_opcodes_on_a_class_are_refused(opcodes: bytes, refused: str) -> None:
    before = _class_vars()
    row = _then_real_state(b"\x80\x04" + _global(FIELDS, b"BaseField") + opcodes + b"0")
    with pytest.raises(UnreadableStateError, match=refused):
        decode_state(row)
    assert _class_vars() == before


@pytest.mark.parametrize("opcode", [b"\x82\x01", b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"])
def test_extension_codes_are_refused(opcode: bytes) -> None:
    # Even one registered and cached process-wide (which would skip find_class).
    copyreg.add_extension("os", "system", 1)
    copyreg._extension_cache[1] = os.system  # type: ignore[attr-defined]
    try:
        with pytest.raises(UnreadableStateError, match="extension codes are not allowed"):
            decode_state(b"\x80\x02" + opcode + b".")
    finally:
        copyreg.remove_extension("os", "system", 1)


@pytest.mark.parametrize(
    ("cls", "base", "refused"),
    [
        pytest.param(OrderedDict, set, "with base <class 'set'>", id="base-set"),
        pytest.param(PYTZ_P, object, "of <function _p", id="cls-function"),
    ],
)
def test_reconstructor_only_builds_plain_classes_on_object(
    cls: Any, base: type, refused: str
) -> None:
    reconstructor = copyreg._reconstructor  # type: ignore[attr-defined]
    data = pickle.dumps(_state(args=(_Reduce(reconstructor, cls, base, None),)), 2)
    with pytest.raises(UnreadableStateError, match=re.escape(f"_reconstructor {refused}")):
        decode_state(data)


# -- crafted rows: resource limits --------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bytes_and_bytearrays_still_decode(protocol: int) -> None:
    values = {"b": b"\x00\xff", "empty_b": b"", "ba": bytearray(b"\x00\xff"), "empty": bytearray()}
    decoded = decode_state(pickle.dumps(_state(kwargs=values), protocol))
    assert decoded["kwargs"] == values
    assert type(decoded["kwargs"]["ba"]) is bytearray


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        pytest.param(_Reduce(bytearray, 10**8), r"bytearray\(\) of anything", id="bytearray-int"),
        pytest.param(_Reduce(bytearray, "ab", "hex"), r"bytearray\(\) of", id="bytearray-codec"),
        pytest.param(_Reduce(bytes, 10**8), r"bytes\(\) with arguments", id="bytes-int"),
        pytest.param(
            _Reduce(codecs.encode, b"ab", "hex"), "encode to 'hex' is not", id="codecs-hex"
        ),
    ],
)
def test_allocating_calls_are_refused(payload: _Reduce, refused: str, protocol: int) -> None:
    with pytest.raises(UnreadableStateError, match=refused):
        decode_state(pickle.dumps(_state(args=(payload,)), protocol))


def test_a_bytearray8_longer_than_the_row_is_refused() -> None:
    # The stock unpicklers allocate the announced 3 GB before reading it.
    data = b"\x80\x05\x96" + struct.pack("<Q", 3_000_000_000) + b"ab."
    with pytest.raises(UnreadableStateError, match="BYTEARRAY8 of 3000000000 bytes in 14"):
        decode_state(data)


def test_an_oversize_job_state_is_refused() -> None:
    decode_state(pickle.dumps(_state(args=("x" * (3 * 2**20),))))
    data = pickle.dumps(_state(args=("x" * (4 * 2**20),)))
    with pytest.raises(
        UnreadableStateError, match=f"job_state is {len(data)} bytes, over the 4 MiB limit"
    ):
        decode_state(data)


def _with_raw_arg(opcodes: bytes) -> bytes:
    """A protocol 2 job state whose only arg is the value ``opcodes`` build."""
    marker = b"RAW-ARG-MARKER"
    data = pickle.dumps(_state(args=(marker.decode(),)), 2)
    assert data.count(_str(marker)) == 1
    return data.replace(_str(marker), opcodes)


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    depth = 100_000
    data = _with_raw_arg(b"]" * depth + b"a" * (depth - 1))
    nested = pickle.loads(data)["args"][0]  # stock pickle builds it (iteratively)
    with pytest.raises(RecursionError):
        repr(nested)
    with pytest.raises(UnreadableStateError, match="nests deeper than 64 levels"):
        decode_state(data)


def test_nesting_up_to_the_limit_decodes() -> None:
    depth = 60  # the state dict and the args tuple are two more levels
    data = _with_raw_arg(b"]" * depth + b"a" * (depth - 1))
    expected: list[Any] = []
    for _ in range(depth - 1):
        expected = [expected]
    assert decode_state(data)["args"][0] == expected


def test_class_references_are_not_looked_into() -> None:
    state = _state(args=(CronTrigger, BaseField, dt.datetime, OrderedDict))
    assert decode_state(pickle.dumps(state))["args"] == state["args"]


def test_a_value_containing_itself_is_refused() -> None:
    with pytest.raises(UnreadableStateError, match="contains itself"):
        decode_state(_with_raw_arg(b"]q\xf0h\xf0a"))


def test_too_many_values_are_refused() -> None:
    decode_state(pickle.dumps(_state(args=[None] * 90_000)))
    with pytest.raises(UnreadableStateError, match="more than 100000 values"):
        decode_state(pickle.dumps(_state(args=[None] * 100_000)))


def test_a_small_row_expanding_to_many_values_is_refused() -> None:
    shared: list[Any] = [1]
    for _ in range(40):
        shared = [shared, shared]
    data = pickle.dumps(_state(args=(shared,)))
    assert len(data) < 1000
    with pytest.raises(UnreadableStateError, match="more than 100000 values"):
        decode_state(data)


def test_an_int_too_long_to_print_is_refused() -> None:
    assert decode_state(pickle.dumps(_state(args=(10**4000,))))["args"] == (10**4000,)
    with pytest.raises(UnreadableStateError, match="int of 16610 bits, too long to print"):
        decode_state(pickle.dumps(_state(args=(10**5000,))))
