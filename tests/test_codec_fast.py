"""The decoder's fast path: it takes stock rows, builds what the restricted unpickler
builds, and leaves every other row to the restricted unpickler."""

from __future__ import annotations

import copyreg
import pickle
import random
import struct
from typing import Any
from unittest import mock

import pytest

from tests.test_codec import _canonical, _state, real_states  # noqa: F401 - a fixture
from whalefall_sched.repository.codec import UnreadableStateError, decode_state
from whalefall_sched.repository.codec.fast import FAST_MAX_BYTES, try_fast

CRON = b"apscheduler.triggers.cron"
FAST_STATES = {"interval_zoneinfo", "date_fixed", "calendar_pytz", "date_pytz", "paused"}
SLOW_STATES = {"cron_week_year", "or", "and_nested"}
FIELDS = b"apscheduler.triggers.cron.fields"


def _restricted(data: bytes) -> Any:
    """What ``decode_state`` makes of ``data`` with no fast path (or the refusal's message):
    the restricted unpickler and the checks after it, as before the fast path."""
    with mock.patch("whalefall_sched.repository.codec.try_fast", return_value=None):
        return _decoded(data)


def _decoded(data: bytes) -> Any:
    try:
        return decode_state(data)
    except UnreadableStateError as exc:
        return f"refused: {exc}"


@pytest.mark.parametrize("protocol", [4, 5])
def test_stock_rows_take_the_fast_path_and_decode_the_same(
    real_states: dict[str, dict[str, Any]],  # noqa: F811 - the fixture
    protocol: int,
) -> None:
    # combining triggers, and arguments of every allowed type, take the restricted path
    assert set(real_states) - SLOW_STATES == FAST_STATES
    for job_id, original in real_states.items():
        data = pickle.dumps(original, protocol)
        assert (try_fast(data) is not None) == (job_id in FAST_STATES), job_id
        assert _canonical(decode_state(data)) == _canonical(_restricted(data)), job_id
        assert _canonical(decode_state(data)) == _canonical(original), job_id


@pytest.mark.parametrize("protocol", [0, 1, 2, 3])
def test_older_protocols_are_left_to_the_restricted_unpickler(protocol: int) -> None:
    assert try_fast(pickle.dumps(_state(), protocol)) is None


def test_mutated_stock_rows_decode_as_the_restricted_unpickler_decodes_them(
    real_states: dict[str, dict[str, Any]],  # noqa: F811 - the fixture
) -> None:
    """Flipped, inserted and deleted bytes: whatever the fast path accepts, the
    restricted unpickler accepts too and builds the same; refusals are its own."""
    rng = random.Random(8)
    rows = [pickle.dumps(state, 5) for state in real_states.values()]
    fast = 0
    for _ in range(3000):
        data = bytearray(rng.choice(rows))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            action = rng.randrange(3)
            if action == 0:
                data[at] = rng.randrange(256)
            elif action == 1:
                data.insert(at, rng.randrange(256))
            else:
                del data[at]
        row = bytes(data)
        expected = _restricted(row)
        got = _decoded(row)
        if isinstance(expected, str):
            assert got == expected, row
        else:
            assert _canonical(got) == _canonical(expected), row
        fast += try_fast(row) is not None
    assert fast  # some mutations (in strings, in numbers) stay on the fast path


def _row(body: bytes) -> bytes:
    """A protocol 5 row: PROTO, FRAME over the rest, ``body``, STOP."""
    rest = body + pickle.STOP
    return pickle.PROTO + b"\x05" + pickle.FRAME + struct.pack("<Q", len(rest)) + rest


def _str(text: bytes) -> bytes:
    return pickle.SHORT_BINUNICODE + bytes([len(text)]) + text


def _global(module: bytes, name: bytes) -> bytes:
    return _str(module) + _str(name) + pickle.STACK_GLOBAL


def _dict(*pairs: bytes) -> bytes:
    return pickle.EMPTY_DICT + pickle.MARK + b"".join(pairs) + pickle.SETITEMS


FIELD = _global(FIELDS, b"BaseField") + pickle.EMPTY_TUPLE + pickle.NEWOBJ

#: Rows the fast path must leave to the restricted unpickler, each for its reason.
LEFT_TO_THE_RESTRICTED_UNPICKLER = {
    "a class as a value": _dict(_str(b"x") + _global(CRON, b"CronTrigger")),
    "a class not in the fast set": _dict(_str(b"x") + _global(b"os", b"system")),
    "BUILD on a class": _dict(
        _str(b"x") + _global(CRON, b"CronTrigger") + _dict(_str(b"a") + pickle.NONE) + pickle.BUILD
    ),
    "BUILD with a dict fetched again": _dict(
        _str(b"x")
        + FIELD
        + pickle.MEMOIZE
        + _dict(_str(b"a") + pickle.NONE)
        + pickle.MEMOIZE
        + pickle.BUILD
        + pickle.BINGET
        + b"\x01"
        + pickle.BUILD
    ),
    "BUILD on a time zone": _dict(
        _str(b"x")
        + _global(b"pytz", b"_UTC")
        + pickle.EMPTY_TUPLE
        + pickle.REDUCE
        + _dict(_str(b"zone") + _str(b"x"))
        + pickle.BUILD
    ),
    "a dunder key": _dict(_str(b"__class__") + pickle.NONE),
    "a key that is not a string": _dict(pickle.BININT1 + b"\x01" + pickle.NONE),
    "a tuple fetched again": _dict(
        _str(b"x") + pickle.EMPTY_TUPLE + pickle.TUPLE1 + pickle.MEMOIZE + pickle.BINGET + b"\x00"
    ),
    "a memo index never made": _dict(_str(b"x") + pickle.LONG_BINGET + b"\xff\xff\xff\x00"),
    "getattr of anything but ZoneInfo._unpickle": _dict(
        _str(b"x")
        + _global(b"builtins", b"getattr")
        + _global(b"zoneinfo", b"ZoneInfo")
        + _str(b"__init__")
        + pickle.TUPLE2
        + pickle.REDUCE
    ),
    "APPEND to a dict": _dict(_str(b"x") + pickle.EMPTY_DICT + pickle.NONE + pickle.APPEND),
    "SETITEM on an instance": _dict(_str(b"x") + FIELD + _str(b"a") + pickle.NONE + pickle.SETITEM),
    "an extension code": _dict(_str(b"x") + pickle.EXT1 + b"\x01"),
    "a persistent id": _dict(_str(b"x") + _str(b"p") + pickle.BINPERSID),
    "a bytearray": _dict(_str(b"x") + pickle.BYTEARRAY8 + struct.pack("<Q", 2**40)),
    "a set": _dict(_str(b"x") + pickle.EMPTY_SET),
    "a list as the row": pickle.EMPTY_LIST,
}


@pytest.mark.parametrize(
    "body", LEFT_TO_THE_RESTRICTED_UNPICKLER.values(), ids=LEFT_TO_THE_RESTRICTED_UNPICKLER
)
def test_rows_outside_the_fast_set_are_left_to_the_restricted_unpickler(body: bytes) -> None:
    row = _row(body)
    assert try_fast(row) is None
    assert _decoded(row) == _restricted(row)


def test_frames_trailing_bytes_and_size_are_checked() -> None:
    good = pickle.dumps(_state(), 5)
    assert try_fast(good) is not None
    assert try_fast(good + b"\x00") is None  # bytes after STOP
    short_frame = good[:3] + struct.pack("<Q", len(good) - 12) + good[11:]
    assert try_fast(short_frame) is None
    assert try_fast(good[:-1]) is None  # no STOP
    big = pickle.dumps(_state(kwargs={"blob": "x" * FAST_MAX_BYTES}), 5)
    assert try_fast(big) is None
    assert decode_state(big)["kwargs"]["blob"] == "x" * FAST_MAX_BYTES


def test_extension_codes_registered_in_the_process_stay_refused() -> None:
    """EXT opcodes resolve through copyreg's process-wide cache, bypassing find_class."""
    copyreg.add_extension("os", "system", 0xF0)
    try:
        row = _row(_dict(_str(b"x") + pickle.EXT1 + b"\xf0"))
        assert try_fast(row) is None
        with pytest.raises(UnreadableStateError, match="extension codes"):
            decode_state(row)
    finally:
        copyreg.remove_extension("os", "system", 0xF0)
