"""Times as every command shows them: ``--tz`` zones, the local zone, time left.

One parser for ``--tz`` (``list``, ``timeline``), one idea of the machine's zone, one
way to say how long until a time (``1h 41min``), one short local time (``MM-DD HH:MM``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from whalefall_sched.cli.terminal import printable

#: ``--tz job`` (``list`` only): each job's time in its trigger's own time zone.
JOB_ZONE = "job"
#: ``--tz local`` (the default): the machine's zone.
LOCAL_ZONE = "local"


@dataclass(frozen=True)
class Zone:
    """Where times are shown: ``tz`` with its ``label``, or (``tz`` None) each job's zone."""

    tz: tzinfo | None
    label: str


def parse_zone(value: str, *, job: bool = True) -> Zone:
    """``--tz``: ``local``, an IANA zone name, or (where ``job``) ``job``; ValueError
    saying why not, in the same words for every command."""
    keywords = f"{LOCAL_ZONE!r} or {JOB_ZONE!r}" if job else f"or {LOCAL_ZONE!r}"
    advice = f"give an IANA name such as UTC or Asia/Shanghai, {keywords}"
    if value == JOB_ZONE:
        if job:
            return Zone(None, "job zone")
        raise ValueError(f"{JOB_ZONE!r} (each job's own zone) is not accepted here: {advice}")
    if value == LOCAL_ZONE:
        return local_zone()
    zone = zone_info(value)
    if zone is None:
        raise ValueError(f"unknown time zone {printable(value)!r}: {advice}")
    return Zone(zone, value)


def zone_option(*, job: bool = True) -> Callable[[str | None], str | None]:
    """A ``--tz`` option's callback: a usage error (exit 2) for a zone :func:`parse_zone`
    does not take."""

    def check(value: str | None) -> str | None:
        if value is not None:
            import typer

            try:
                parse_zone(value, job=job)
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from exc
        return value

    return check


def zone_info(key: str) -> tzinfo | None:
    """The IANA zone ``key``; None when there is no such zone (or ``key`` is not one)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not key or not key.isprintable():
        return None
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # not found, not a key, a directory
        return None


def local_zone() -> Zone:
    """The machine's zone, named (``TZ``, else ``/etc/localtime``), else its abbreviation."""
    key = _local_key()
    zone = zone_info(key) if key else None
    if key and zone is not None:
        return Zone(zone, key)
    local = datetime.now().astimezone().tzinfo or UTC
    return Zone(local, local.tzname(None) or "local")


def _local_key() -> str | None:
    if "TZ" in os.environ:
        value = os.environ["TZ"].removeprefix(":")
        if not value:
            return "UTC"  # an empty TZ is UTC to the C library
        return value.split("zoneinfo/", 1)[1] if "zoneinfo/" in value else value
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return None
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    return None


def duration(seconds: int) -> str:
    """``seconds`` (not negative) in its two largest units, as ``systemctl list-timers``
    says it: ``1h 41min``, ``21h``, ``2d 3h``, ``4min 59s``, ``42s``."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}min" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}min {secs}s" if secs else f"{minutes}min"
    return f"{secs}s"


def time_left(seconds: int) -> str:
    """A LEFT column (``list``, ``get --next``): :func:`duration`, or ``overdue`` when
    the time has passed (a time past or ahead in full is ``render.relative_time``)."""
    return "overdue" if seconds < 0 else duration(seconds)


def short_time(when: datetime, year: int) -> str:
    """``MM-DD HH:MM`` when ``when`` falls in ``year``, else ``YYYY-MM-DD HH:MM``."""
    return f"{when:%m-%d %H:%M}" if when.year == year else f"{when:%Y-%m-%d %H:%M}"
