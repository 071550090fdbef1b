"""The shape check: a decoded state no deeper, larger or longer than the limits."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from whalefall_sched.repository.codec.limits import (
    _LEAVES,
    _SCALARS,
    _TEXT,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_NODES,
    MAX_TEXT_CHARS,
    UnreadableStateError,
)


def _children(value: Any) -> Collection[Any] | None:
    """What the shape check looks into: container items, an object's attributes."""
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        return value
    if isinstance(value, _LEAVES) or callable(value):  # callable: a class reference
        return None
    children = list(getattr(value, "__dict__", {}).values())
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{cls.__name__.lstrip('_')}{name}"  # noqa: PLW2901 - mangled
            if hasattr(value, name):
                children.append(getattr(value, name))
    return children


def _check_shape(state: Any) -> None:
    """Refuse a state too deep, too large or holding an int too long to print.

    Iterative, so a state nested 100,000 levels deep is refused instead of making every
    later ``repr``/JSON rendering of the store fail with ``RecursionError``. Shared values
    (and the characters of shared strings) are counted each time they are reached, as
    rendering expands them each time; a value that contains itself is refused as too deep.
    """
    pending: list[tuple[Any, int]] = [(state, 1)]
    nodes = 1
    text = 0
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise UnreadableStateError(
                f"job state nests deeper than {MAX_DEPTH} levels (or contains itself)"
            )
        children = _children(value)
        if not children:
            continue
        nodes += len(children)
        if nodes > MAX_NODES:
            raise UnreadableStateError(f"job state holds more than {MAX_NODES} values")
        for child in children:
            kind = type(child)
            if kind is int and child.bit_length() > MAX_INT_BITS:
                raise UnreadableStateError(
                    f"job state holds an int of {child.bit_length()} bits, too long to print"
                )
            if kind in _TEXT:
                text += len(child)
                if text > MAX_TEXT_CHARS:
                    raise UnreadableStateError(
                        f"job state holds more than {MAX_TEXT_CHARS // 2**20} MiB of strings "
                        "and bytes (a shared one counted each time)"
                    )
            if kind not in _SCALARS:
                pending.append((child, depth + 1))
