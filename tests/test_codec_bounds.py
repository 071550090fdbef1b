"""Hostile ``job_state`` rows: every decode ends in bounded memory and work.

Each row below fits the 4 MiB row limit, and each made the decoder before these limits
spend far more than its size. Peak memory and time of ``decode_state`` per row, measured
in a child process (``ru_maxrss`` over the interpreter's own, 2 cores), before -> after:

====================== ================== ===========================================
row                    before             after (the limit hit)
====================== ================== ===========================================
EMPTY_SET x 4 Mi       944 MiB, 7 s       41 MiB, 0.8 s (objects made)
EMPTY_SET+MEMOIZE      611 MiB, 7 s       60 MiB, 0.9 s (objects made)
MARK+FROZENSET         473 MiB, 4.6 s     41 MiB, 1.0 s (objects made)
MEMOIZE x 4 Mi         326 MiB, 1.6 s     21 MiB, 0.3 s (memo entries)
EMPTY_LIST/EMPTY_DICT  291 MiB, 2-4 s     10 MiB, 0.2-0.7 s (objects made)
MARK x 4 Mi            291 MiB, 4.3 s     0 MiB, 0 s (open marks)
OrderedDict() calls    139 MiB, 2.5 s     22 MiB, 1.6 s (objects made)
CronTrigger() calls    > 60 s (stopped)   18 MiB, 0.7 s (objects made)
AndTrigger globals     1.7 GiB, 42 s      6 MiB, 2 s (objects made; one class, cached)
set(shared list)       > 60 s (stopped)   6 MiB, 0.3 s (objects made)
bytearray(shared)      6 GiB cap in 7 s   0 MiB, 0 s (decoded text)
BaseField(shared expr) > 60 s (stopped)   21 MiB, 2.1 s (objects made)
shared tuple DAG key   > 60 s (stopped)   0 MiB, 0 s (tuple expansion)
colliding int keys     > 60 s (stopped)   0 MiB, 0 s (keys of one hash)
shared combining child > 60 s (stopped)   9 MiB, 0.2 s (triggers rebuilt)
50,000 pytz offsets    > 120 s (stopped)  0 MiB, 1.1 s (objects made; pytz caches unchanged)
ZoneInfo no_cache x N  51 s               0 MiB, 0.8 s (objects made; one cached zone)
====================== ================== ===========================================

The tests assert which limit refuses each row (and, for the worst rows, a bound on the
memory ``tracemalloc`` sees), never a time.
"""

from __future__ import annotations

import datetime as dt
import pickle
import re
import struct
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytz
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from pytz import tzinfo

from tests.test_codec import _state
from whalefall_sched.repository import codec
from whalefall_sched.repository.codec import (
    MAX_LOAD_OBJECTS,
    MAX_SAME_HASH,
    MAX_STATE_BYTES,
    UnreadableStateError,
    decode_state,
)

P4 = pickle.PROTO + b"\x04"


def _str(text: bytes) -> bytes:
    return pickle.SHORT_BINUNICODE + bytes([len(text)]) + text


def _get(index: int) -> bytes:
    return pickle.BINGET + bytes([index])


def _global(module: bytes, name: bytes) -> bytes:
    return _str(module) + _str(name) + pickle.STACK_GLOBAL + pickle.MEMOIZE


def _fill(prefix: bytes, unit: bytes, suffix: bytes = pickle.STOP) -> bytes:
    """``prefix``, then ``unit`` as many times as a 4 MiB row holds, then ``suffix``."""
    return prefix + unit * ((MAX_STATE_BYTES - len(prefix) - len(suffix)) // len(unit)) + suffix


def _batches(prefix: bytes, item: bytes, close: bytes, per: int = 1000) -> bytes:
    """``prefix``, then marked batches of ``per`` items closed by ``close`` (as pickle
    writes long lists and dicts), as many as a 4 MiB row holds."""
    return _fill(prefix, pickle.MARK + item * per + close)


def _long(value: int) -> bytes:
    raw = value.to_bytes(11, "little", signed=True)
    return pickle.LONG1 + bytes([len(raw)]) + raw


def _colliding_keys() -> bytes:
    """A dict of distinct int keys that all hash like 1, as many as a 4 MiB row holds.

    Each insert compares the new key with every earlier one: 40,000 keys took 19 s.
    """
    out = [P4, pickle.EMPTY_DICT]
    k = 1
    while sum(map(len, out)) < MAX_STATE_BYTES - 20_000:
        keys = b"".join(_long(1 + (k + i) * (2**61 - 1)) + pickle.NONE for i in range(1000))
        out.append(pickle.MARK + keys + pickle.SETITEMS)
        k += 1000
    return b"".join([*out, pickle.STOP])


def _tuple_dag(levels: int) -> bytes:
    """Memo 0..levels: t0 = (), t(n+1) = (tn, tn); t(levels) expands to 2**(levels+1)-1."""
    out = pickle.EMPTY_TUPLE + pickle.MEMOIZE + pickle.POP
    for i in range(levels):
        out += _get(i) + _get(i) + pickle.TUPLE2 + pickle.MEMOIZE + pickle.POP
    return out


def _combining_dag(levels: int) -> bytes:
    """An OrTrigger whose state holds the same child state twice at every level."""
    out = P4 + _global(b"apscheduler.triggers.combining", b"OrTrigger")  # memo 0
    names = [b"apscheduler.triggers.combining:OrTrigger", b"apscheduler.triggers.date:DateTrigger"]
    for name in [*names, b"triggers", b"jitter", b"version", b"run_date"]:
        out += _str(name) + pickle.MEMOIZE  # memo 1..6
    # memo 7: (DateTrigger ref, {"version": 1, "run_date": None})
    leaf = pickle.EMPTY_DICT + pickle.MARK + _get(5) + b"K\x01" + _get(6) + pickle.NONE
    out += _get(2) + leaf + pickle.SETITEMS + pickle.TUPLE2 + pickle.MEMOIZE
    for child in range(7, 7 + levels):
        state = pickle.EMPTY_DICT + pickle.MARK + _get(5) + b"K\x01" + _get(4) + pickle.NONE
        state += _get(3) + pickle.EMPTY_LIST + pickle.MARK + _get(child) + _get(child)
        state += pickle.APPENDS + pickle.SETITEMS
        out += _get(1) + state + pickle.TUPLE2 + pickle.MEMOIZE
    top = 7 + levels
    state = pickle.EMPTY_DICT + pickle.MARK + _get(5) + b"K\x01" + _get(4) + pickle.NONE
    state += _get(3) + pickle.EMPTY_LIST + pickle.MARK + _get(top) + pickle.APPENDS
    state += pickle.SETITEMS
    return out + _get(0) + pickle.EMPTY_TUPLE + pickle.NEWOBJ + state + pickle.BUILD + pickle.STOP


def _calls(module: bytes, name: bytes, shared: bytes, args: bytes) -> bytes:
    """``module.name`` (memo 0) called again and again on ``args`` (``shared`` sets up
    the memo they reference)."""
    return _fill(P4 + _global(module, name) + shared, _get(0) + args + pickle.REDUCE)


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty-sets": (lambda: _fill(P4, pickle.EMPTY_SET), "makes more than 200000 objects"),
    "empty-dicts": (lambda: _fill(P4, pickle.EMPTY_DICT), "makes more than 200000 objects"),
    "empty-lists": (lambda: _fill(P4, pickle.EMPTY_LIST), "makes more than 200000 objects"),
    "frozensets": (
        lambda: _fill(P4, pickle.MARK + pickle.FROZENSET),
        "makes more than 200000 objects",
    ),
    "memoized-sets": (
        lambda: _fill(P4, pickle.EMPTY_SET + pickle.MEMOIZE),
        "makes more than 200000 objects",
    ),
    "floats": (lambda: _fill(P4, b"G" + struct.pack(">d", 1.5)), "makes more than 200000 objects"),
    "nones": (lambda: _fill(P4, pickle.NONE), "stacks more than 200000 values"),
    "empty-tuples": (lambda: _fill(P4, pickle.EMPTY_TUPLE), "stacks more than 200000 values"),
    "one-long-list": (
        lambda: _fill(P4 + pickle.EMPTY_LIST + pickle.MARK, pickle.NONE, pickle.APPENDS),
        "stacks more than 200000 values",
    ),
    "batched-appends": (
        lambda: _batches(P4 + pickle.EMPTY_LIST, pickle.NONE, pickle.APPENDS),
        "pushes more than 1000000 values",
    ),
    "protocol-0-appends": (
        lambda: _fill(pickle.MARK + pickle.LIST, pickle.NONE + pickle.APPEND),
        "pushes more than 1000000 values",
    ),
    "batched-setitems": (
        lambda: _batches(P4 + pickle.EMPTY_DICT, b"K\x01" + pickle.NONE, pickle.SETITEMS),
        "makes more than 200000 objects",
    ),
    "marks": (lambda: _fill(P4, pickle.MARK), "opens more than 128 marks"),
    "memoize": (
        lambda: _fill(P4 + pickle.EMPTY_LIST, pickle.MEMOIZE),
        "memoizes more than 200000 values",
    ),
    "shared-string": (
        lambda: _fill(
            P4 + pickle.BINUNICODE8 + struct.pack("<Q", 2**20) + b"x" * 2**20 + pickle.MEMOIZE,
            _get(0),
        ),
        "decodes more than 8 MiB of strings and bytes",
    ),
    "huge-int": (
        lambda: P4 + pickle.LONG4 + struct.pack("<i", 2**20) + b"\x01" * 2**20 + pickle.STOP,
        "an int of 8388601 bits",
    ),
    "ordered-dict-calls": (
        lambda: _calls(b"collections", b"OrderedDict", b"", pickle.EMPTY_TUPLE),
        "makes more than 200000 objects",
    ),
    "cron-trigger-calls": (
        lambda: _calls(b"apscheduler.triggers.cron", b"CronTrigger", b"", pickle.EMPTY_TUPLE),
        "makes more than 200000 objects",
    ),
    "cron-field-calls": (
        lambda: _calls(
            b"apscheduler.triggers.cron.fields",
            b"BaseField",
            _str(b"second")
            + pickle.MEMOIZE
            + pickle.BINUNICODE
            + struct.pack("<I", 19_999)
            + b",".join([b"1"] * 10_000)
            + pickle.MEMOIZE,
            _get(1) + _get(2) + pickle.TUPLE2,
        ),
        "makes more than 200000 objects",
    ),
    "set-of-shared-list": (
        lambda: _calls(
            b"builtins",
            b"set",
            pickle.EMPTY_LIST
            + pickle.MARK
            + b"".join(b"M" + struct.pack("<H", i) for i in range(10_000))
            + pickle.APPENDS
            + pickle.MEMOIZE,
            _get(1) + pickle.TUPLE1,
        ),
        "makes more than 200000 objects",
    ),
    "bytearray-of-shared-bytes": (
        lambda: _calls(
            b"builtins",
            b"bytearray",
            pickle.BINBYTES8 + struct.pack("<Q", 2**20) + b"\0" * 2**20 + pickle.MEMOIZE,
            _get(1) + pickle.TUPLE1,
        ),
        "decodes more than 8 MiB of strings and bytes",
    ),
    "combining-class-globals": (
        lambda: _fill(
            P4
            + _str(b"apscheduler.triggers.combining")
            + pickle.MEMOIZE
            + _str(b"AndTrigger")
            + pickle.MEMOIZE,
            _get(0) + _get(1) + pickle.STACK_GLOBAL + pickle.POP,
        ),
        "makes more than 200000 objects",
    ),
    "tuple-dag-key": (
        lambda: P4 + _tuple_dag(40) + pickle.EMPTY_DICT + _get(40) + pickle.NONE + b"s.",
        "holds more than 100000 values (a tuple expands to 131071)",
    ),
    "shared-tuple-keys": (
        lambda: _batches(P4 + _tuple_dag(15) + pickle.EMPTY_DICT, _get(15) + pickle.NONE, b"u"),
        "pushes more than 1000000 values",
    ),
    "nested-tuple": (
        lambda: P4 + pickle.EMPTY_TUPLE + pickle.TUPLE1 * 65 + pickle.STOP,
        "nests deeper than 64 levels",
    ),
    "colliding-int-keys": (
        _colliding_keys,
        f"more than {MAX_SAME_HASH} distinct keys with one same hash",
    ),
    "shared-combining-child": (
        lambda: _combining_dag(40),
        "combining trigger rebuilds more than 1000 triggers",
    ),
}


@pytest.mark.parametrize(("build", "limit"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_row_is_refused_by_the_limit_it_hits(
    build: Callable[[], bytes], limit: str
) -> None:
    data = build()
    assert len(data) <= MAX_STATE_BYTES
    with pytest.raises(UnreadableStateError, match=re.escape(limit)):
        decode_state(data)


#: The rows that made the decoder allocate most (or for ever) before the load limits.
HUNGRIEST = [
    "memoized-sets",
    "ordered-dict-calls",
    "set-of-shared-list",
    "bytearray-of-shared-bytes",
]


@pytest.mark.parametrize("name", HUNGRIEST)
def test_a_hostile_row_decodes_in_bounded_memory(name: str) -> None:
    data = HOSTILE[name][0]()
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableStateError):
            decode_state(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # An empty set is about 200 bytes: the objects limit bounds the peak near 50 MiB
    # (the rows made 0.5 to 1.7 GiB, or ran out of memory, before it).
    assert peak < MAX_LOAD_OBJECTS * 400, f"{peak / 2**20:.0f} MiB"


# -- what stays readable ------------------------------------------------------------------


def test_states_near_the_limits_still_decode() -> None:
    many = [f"value {i}" for i in range(90_000)]  # 90,000 objects, memo entries
    assert decode_state(pickle.dumps(_state(args=many)))["args"] == many
    wide = tuple(range(90_000))  # 90,000 values on the stack at once
    assert decode_state(pickle.dumps(_state(args=wide), 4))["args"] == wide
    shared = "x" * 2**20  # one string, referenced three times
    assert decode_state(pickle.dumps(_state(args=(shared, shared, shared))))["args"][2] == shared


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_keys_equal_or_few_with_one_hash_still_decode(protocol: int) -> None:
    colliding = {1 + k * (2**61 - 1): k for k in range(MAX_SAME_HASH - 1)}
    kwargs = {
        "minus": {-1: "a", -2: "b"},  # hash(-1) == hash(-2)
        "colliding": colliding,
        "same": [{"key": i, (1, (2, 3)): i} for i in range(100)],  # equal keys, many dicts
        "tags": {1, 2**61},  # hash(2**61) == hash(1)
    }
    decoded = decode_state(pickle.dumps(_state(kwargs=kwargs), protocol))
    assert decoded["kwargs"] == kwargs


def test_a_tuple_dag_under_the_limits_still_decodes() -> None:
    key: tuple[Any, ...] = ()
    for _ in range(10):
        key = (key, key)
    state = _state(kwargs={"by_key": {key: 1}})
    assert decode_state(pickle.dumps(state))["kwargs"] == {"by_key": {key: 1}}


def test_colliding_keys_over_the_limit_are_refused_in_every_container() -> None:
    keys = [1 + k * (2**61 - 1) for k in range(MAX_SAME_HASH + 1)]
    for value in (dict.fromkeys(keys), set(keys), frozenset(keys), OrderedDict.fromkeys(keys)):
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with pytest.raises(UnreadableStateError, match="distinct keys with one same hash"):
                decode_state(pickle.dumps(_state(kwargs={"v": value}), protocol))


def test_a_trigger_constructor_called_once_still_decodes() -> None:
    class Call:
        def __reduce__(self) -> tuple[Any, ...]:
            return CronTrigger, ("2030", None, None, None, None, "3")

    decoded = decode_state(pickle.dumps(_state(trigger=Call()), 4))
    assert str(decoded["trigger"]) == "cron[year='2030', hour='3']"


def test_nested_combining_triggers_still_decode() -> None:
    cron = CronTrigger(hour=3, timezone="UTC")
    trigger = OrTrigger([AndTrigger([cron, OrTrigger([cron, cron])]), cron])
    decoded = decode_state(pickle.dumps(_state(trigger=trigger)))
    assert str(decoded["trigger"]) == str(trigger)


def test_the_checked_combining_classes_are_made_once() -> None:
    assert codec._combining_class("OrTrigger") is codec._combining_class("OrTrigger")


def test_call_arguments_are_checked() -> None:
    refused = {
        "OrderedDict() with arguments": _calls(
            b"collections", b"OrderedDict", b"", pickle.EMPTY_DICT + pickle.TUPLE1
        ),
        "set() of anything but one list": _calls(
            b"builtins", b"set", b"", _str(b"abc") + pickle.TUPLE1
        ),
        "call arguments that are not a tuple": _calls(b"builtins", b"set", b"", pickle.EMPTY_LIST),
    }
    for message, data in refused.items():
        with pytest.raises(UnreadableStateError, match=re.escape(message)):
            decode_state(data)


def test_a_long_name_makes_a_short_message() -> None:
    name = b"x" * 2**20
    data = P4 + pickle.BINUNICODE + struct.pack("<I", len(name)) + name + _str(b"y")
    with pytest.raises(
        UnreadableStateError, match=r"^class x+\.\.\.x+\.y is not allowed"
    ) as refused:
        decode_state(data + pickle.STACK_GLOBAL + pickle.STOP)
    assert len(str(refused.value)) <= 500


def test_lone_surrogates_decode() -> None:
    # Legal in a pickled str ('surrogatepass'); printing them is the renderer's concern.
    state = _state(args=("a\ud800b",), kwargs={"k\udfff": "\udcff"}, name="n\ud800")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        decoded = decode_state(pickle.dumps(state, protocol))
        assert decoded["args"] == ("a\ud800b",)
        assert decoded["kwargs"] == {"k\udfff": "\udcff"}


# -- process-wide caches ------------------------------------------------------------------


def _pytz_offsets(count: int) -> bytes:
    """pytz._p('Europe/Berlin', offset, 0, 'X') for ``count`` offsets the zone never had."""
    call = _get(0) + pickle.MARK + _get(1) + b"J%s" + b"K\x00" + _get(2) + pickle.TUPLE
    calls = b"".join(
        call.replace(b"%s", struct.pack("<i", 7 * k + 1)) + pickle.REDUCE + pickle.POP
        for k in range(count)
    )
    out = P4 + _global(b"pytz", b"_p") + _str(b"Europe/Berlin") + pickle.MEMOIZE
    return out + _str(b"X") + pickle.MEMOIZE + calls + pickle.NONE + pickle.STOP


def test_pytz_states_do_not_grow_pytz_caches() -> None:
    berlin: Any = pytz.timezone("Europe/Berlin")
    before = (len(berlin._tzinfos), len(tzinfo._timedelta_cache))  # type: ignore[attr-defined]
    # Stock pytz keeps each offset for good and scans them all on each miss: 50,000 took
    # over two minutes, and slowed every later decode in the process.
    with pytest.raises(UnreadableStateError, match="makes more than 200000 objects"):
        decode_state(_pytz_offsets(50_000))
    with pytest.raises(UnreadableStateError, match=re.escape("pytz.FixedOffset(1.5) is not")):
        decode_state(
            P4 + _global(b"pytz", b"FixedOffset") + b"G?\xf8\x00\x00\x00\x00\x00\x00\x85R."
        )
    after = (len(berlin._tzinfos), len(tzinfo._timedelta_cache))  # type: ignore[attr-defined]
    assert after == before


def test_a_pytz_state_the_zone_no_longer_has_still_decodes() -> None:
    berlin: Any = pytz.timezone("Europe/Berlin")
    row = pickle.dumps(_state(kwargs={"when": berlin.localize(dt.datetime(2030, 1, 1))}), 2)
    # As if written with older zone data: an offset (and name) Berlin never had.
    cet = b"M\x10\x0eK\x00X\x03\x00\x00\x00CET"  # 3600, 0, 'CET'
    crafted = row.replace(cet, b"M\x11\x0eK\x00X\x03\x00\x00\x00XYZ")
    assert crafted != row
    when = decode_state(crafted)["kwargs"]["when"]
    assert when.utcoffset() == dt.timedelta(seconds=3601) and when.tzname() == "XYZ"
    assert len(berlin._tzinfos) < 1000


def test_uncached_zoneinfo_states_decode_from_the_cache() -> None:
    zone = ZoneInfo.no_cache("America/New_York")
    decoded = decode_state(pickle.dumps(_state(kwargs={"zone": zone}), 4))
    assert decoded["kwargs"]["zone"] is ZoneInfo("America/New_York")
