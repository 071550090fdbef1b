"""The job result objects ``list`` and ``get`` return, and what every result object
shares: the job states, the JSON shape's version and helpers (``_Dict`` with its
``TIME_FIELDS``, ``utc_z``, ``jsonable``). The other result objects are in
``action_dto.py``, ``store_dto.py`` and beside their services."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, overload

STATE_RUNNING = "STATE_RUNNING"
STATE_PAUSED = "STATE_PAUSED"
STATE_UNREADABLE = "STATE_UNREADABLE"
#: The version of the JSON documents' shape (``schema_version``, the first key of each).
SCHEMA_VERSION = 1


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with its offset, or None."""
    return value.isoformat() if value is not None else None


@overload
def utc_z(value: None) -> None: ...
@overload
def utc_z(value: datetime | str) -> str | None: ...
def utc_z(value: datetime | str | None) -> str | None:
    """A time (a datetime, or ISO 8601 text with its offset) as UTC in whole seconds, cut
    not rounded, ending in ``Z`` (``2026-12-02T17:00:00Z``, what ``jq``'s
    ``fromdateiso8601`` reads); None for None, and for a time UTC cannot hold (before
    year 1 or after 9999). A time without an offset is taken as UTC already."""
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    try:
        utc = when.astimezone(UTC) if when.tzinfo is not None else when
    except OverflowError:
        return None
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def with_utc(document: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``document`` with ``<key>_utc`` (:func:`utc_z`) right after each of ``keys``."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        out[key] = value
        if key in keys:
            out[f"{key}_utc"] = utc_z(value)
    return out


def jsonable(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """``value`` as plain JSON data (job args may hold datetimes, sets, bytes...)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)


#: The 2026-07 host's list fields, last in an item; left out where ``task_id`` is None.
HOST_FIELDS = ("task_id", "task_name", "editable_fields")


def without_host_fields(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without :data:`HOST_FIELDS` when the host has none (2026-01)."""
    if document.get("task_id") is None:
        for key in HOST_FIELDS:
            document.pop(key, None)
    return document


class _Dict:
    #: The fields holding a time (ISO 8601 with its offset): each is followed in the JSON
    #: by ``<field>_utc``, the same time in UTC, whole seconds, ending in ``Z``.
    TIME_FIELDS: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this result."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        document = {f.name: jsonable(getattr(self, f.name)) for f in fields}
        return with_utc(document, self.TIME_FIELDS) if self.TIME_FIELDS else document


@dataclass(frozen=True)
class SchedulerJobListItem(_Dict):
    """One job as the host API's list shows it, plus ``func_ref``, ``executor``, ``week``.

    ``func`` and ``func_ref`` (always equal) are the host API's JSON keys; in code the
    job's ``module:attr`` reference is called ``func_ref``. ``is_builtin`` and
    ``description`` are None when the tasks file could not be read.
    """

    TIME_FIELDS = ("next_run_time", "last_run_time", "paused_at")

    id: str
    name: str | None
    description: str | None
    next_run_time: str | None
    last_run_time: str | None
    trigger_type: str | None
    trigger_args: dict[str, str]
    state: str
    is_builtin: bool | None
    func: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    func_ref: str | None = None
    executor: str | None = None
    unreadable_reason: str | None = None
    #: The trigger's time zone (``Asia/Shanghai``), for tables only: not in the JSON.
    timezone: str | None = None
    #: The status of the run ``last_run_time`` is of, for tables only: not in the JSON.
    last_run_status: str | None = None
    #: A paused job's latest pause in the audit trail: who, why, when (None when unknown).
    paused_by: str | None = None
    paused_reason: str | None = None
    paused_at: str | None = None
    #: The 2026-07 host's list fields (README, "Host generations"): None, and left out of
    #: the JSON, where the host has none (2026-01) or the tasks file is unknown.
    task_id: str | None = None
    task_name: str | None = None
    editable_fields: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this item (``timezone`` and ``last_run_status`` are left
        out, and the 2026-07 host's fields where the host has none)."""
        document = without_host_fields(super().to_dict())
        del document["timezone"]
        del document["last_run_status"]
        return document


@dataclass(frozen=True)
class SchedulerJobDetail(_Dict):
    """One job as the host API's detail shows it, plus every field of the list's item
    (``tests/test_json_contract.py`` keeps them in step)."""

    TIME_FIELDS = ("next_run_time", "last_run_time", "paused_at")

    id: str
    name: str | None
    next_run_time: str | None
    trigger: str | None
    func: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    misfire_grace_time: int | None
    max_instances: int | None
    coalesce: bool | None
    description: str | None = None
    trigger_type: str | None = None
    trigger_args: dict[str, str] = field(default_factory=dict)
    state: str = STATE_UNREADABLE
    is_builtin: bool | None = False
    executor: str | None = None
    unreadable_reason: str | None = None
    #: The ``started_at`` of the job's latest run, as in the list (None without history).
    last_run_time: str | None = None
    func_ref: str | None = None
    #: A paused job's latest pause in the audit trail: who, why, when (None when unknown).
    paused_by: str | None = None
    paused_reason: str | None = None
    paused_at: str | None = None
    #: As in the list's item (2026-07 host); None on 2026-01.
    task_id: str | None = None
    task_name: str | None = None
    editable_fields: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (the 2026-07 host's fields only where the host has them)."""
        return without_host_fields(super().to_dict())
