"""JSON output: every result's JSON document (``schema_version`` first), written exact
and always encodable, whole (:func:`print_json`) or streamed item by item
(:func:`print_json_items`, :func:`json_chunks`: the same bytes).
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from whalefall_sched.services.action_dto import ManualRunResult
from whalefall_sched.services.dto import SCHEMA_VERSION, SchedulerJobListItem


@dataclass(frozen=True)
class JobList:
    """The ``list`` result: its items as the read service yields them (iterated once)."""

    items: Iterable[SchedulerJobListItem]


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(document: Any, *, ascii_only: bool = False) -> str:
    """``document`` as JSON text, exact and always encodable as UTF-8.

    A lone surrogate (a store can hold one) is written as its ``\\udXXX`` escape, which
    decodes to the same string; ``ascii_only`` escapes every non-ASCII character too.
    """
    text = json.dumps(document, ensure_ascii=ascii_only, indent=2)
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _stdout_is_utf8() -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout: UTF-8 text, or ASCII escapes where stdout's
    encoding is not UTF-8 (``PYTHONIOENCODING=ascii``, say)."""
    sys.stdout.write(json_text(document, ascii_only=not _stdout_is_utf8()) + "\n")
    sys.stdout.flush()


_END = object()
#: How :func:`json_text` ends a document whose last value is null.
_NULL_TAIL = "null\n}"


def json_chunks(
    head: dict[str, Any], key: str, items: Iterable[Any], *, ascii_only: bool = False
) -> Iterator[str]:
    """The text of ``json_text({**head, key: list(items)})``, piece by piece: the head,
    then each item as ``items`` yields it, then the tail. Holds one item at a time.

    The first item is read before anything is yielded, so an error reading the store
    leaves nothing written.
    """
    if key in head:
        raise ValueError(f"{key!r} must be the document's last key")
    iterator = iter(items)
    first = next(iterator, _END)
    opening = json_text({**head, key: None}, ascii_only=ascii_only)
    yield opening[: -len(_NULL_TAIL)]
    if first is _END:
        yield "[]\n}"
        return

    def indented(item: Any) -> str:
        # JSON text never holds a raw newline inside a string: each line is a line of JSON
        return "    " + json_text(item, ascii_only=ascii_only).replace("\n", "\n    ")

    yield "[\n" + indented(first)
    for item in iterator:
        yield ",\n" + indented(item)
    yield "\n  ]\n}"


def print_json_items(items: Iterable[Any]) -> None:
    """``{"schema_version": 1, "items": [...]}`` on stdout, written as ``items`` yields
    each document: memory does not grow with the number of items. The same bytes as
    :func:`print_json` of the whole document."""
    ascii_only = not _stdout_is_utf8()
    for chunk in json_chunks(_envelope(), "items", items, ascii_only=ascii_only):
        sys.stdout.write(chunk)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _envelope(**document: Any) -> dict[str, Any]:
    """A JSON document: an object whose first key is ``schema_version``."""
    return {"schema_version": SCHEMA_VERSION, **document}


def error_document(error: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of a failure: ``{"schema_version": 1, "error": {...}}``."""
    return _envelope(error=error)


def json_document(result: Any) -> dict[str, Any]:
    """The JSON document of a result object: an object, ``schema_version`` first (the
    ``list`` result's items under ``items``)."""
    if isinstance(result, JobList):
        return _envelope(items=[item.to_dict() for item in result.items])
    document = result.to_dict()
    if isinstance(result, ManualRunResult) and not result.succeeded:
        # Every failure carries the same error object; a failed run exits 1.
        document["error"] = result.error_dict()
    return _envelope(**document)
