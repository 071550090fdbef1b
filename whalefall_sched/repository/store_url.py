"""The store URL and its driver, checked before any engine: ``@`` signs, the plain
SQLite URLs stdlib ``sqlite3`` reads, SQLAlchemy's parse, the SQLite file (or why none
is there), the missing driver's install hint, PyMySQL's ``?charset=``. Passwords are
masked in every message; nothing here connects or creates anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from whalefall_sched.errors import InvalidInputError
from whalefall_sched.masking import mask_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

#: A SQLite URL stdlib ``sqlite3`` reads without SQLAlchemy: the default driver, a file,
#: no query string. Anything else is parsed by SQLAlchemy (what ``make_url`` reads as
#: the database here is the same text, percent-decoded).
_PLAIN_SQLITE = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<database>[^?]*)")


def sqlite_missing(path: Path) -> str | None:
    """Why no SQLite store file is at ``path`` (the file, or its directory, does not
    exist), or None when something is there. Looks only; creates nothing."""
    if path.exists():
        return None
    parent = path.absolute().parent
    if parent.exists() and not parent.is_dir():
        return f"{parent} is not a directory"
    if not parent.exists():
        return f"the directory {parent} does not exist"
    return "the file does not exist"


#: URL scheme -> the package extra that installs its driver, and the URL that uses it.
_EXTRAS = {
    "postgresql": ("postgres", "postgresql+psycopg://..."),
    "postgres": ("postgres", "postgresql+psycopg://..."),
    "mysql": ("mysql", "mysql+pymysql://..."),
    "mariadb": ("mysql", "mysql+pymysql://..."),
}
#: The driver module each extra installs.
_EXTRA_DRIVERS = {"postgres": "psycopg", "mysql": "pymysql"}


def check_at_signs(url: str) -> None:
    """:class:`InvalidInputError` for an unencoded ``@`` in the user name or password."""
    # every '@' before the path's end or the query: '/' may be part of a password
    if url.partition("://")[2].partition("?")[0].count("@") > 1:
        raise InvalidInputError(
            f"invalid store URL {mask_url(url)!r}: percent-encode '@' in the "
            "user name or password as %40"
        )


def plain_sqlite_file(url: str, schema: str | None) -> Path | None:
    """The file of a plain SQLite URL (``sqlite:///path``, default driver, no query,
    no schema), which reads open with stdlib ``sqlite3`` (:mod:`.sqlite_reads`);
    None for any other URL. Imports no SQLAlchemy."""
    check_at_signs(url)
    match = _PLAIN_SQLITE.fullmatch(url)
    if match is None or schema is not None:
        return None
    from urllib.parse import unquote

    database = unquote(match["database"])
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it; :class:`InvalidInputError` if it cannot."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    check_at_signs(url)
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        raise InvalidInputError(
            f"invalid store URL {mask_url(url)!r}; want e.g. "
            "sqlite:///userdata/scheduler.db or postgresql+psycopg://user@host/db"
        ) from exc


def sqlite_path(url: str, schema: str | None) -> Path | None:
    """The database file of a SQLite store, None for other stores or in-memory ones."""
    plain = plain_sqlite_file(url, schema)
    if plain is not None:
        return plain
    parsed = parse_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def missing_driver(url: str, module: str) -> InvalidInputError:
    """The error for a URL whose database driver is not installed: it names the
    command that installs it (the package's ``postgres`` or ``mysql`` extra)."""
    scheme = url.partition("://")[0].partition("+")[0].lower()
    extra, url_form = _EXTRAS.get(scheme, (None, ""))
    top = module.partition(".")[0]
    message = f"cannot use store URL {mask_url(url)!r}: its driver {top} is not installed"
    if extra is None:
        return InvalidInputError(f"{message}; install {top}")
    install = f"`uv sync --extra {extra}` (in a clone) or `pip install 'whalefall-sched[{extra}]'`"
    if top != _EXTRA_DRIVERS[extra]:  # another driver than the extra's, e.g. psycopg2
        return InvalidInputError(f"{message}; use {url_form} and install its driver with {install}")
    return InvalidInputError(f"{message}; install it with {install}")


def check_pymysql_charset(charset: object) -> None:
    """A ``?charset=`` PyMySQL does not know is a usage error naming it (PyMySQL itself
    fails with an AttributeError deep in its handshake)."""
    if not isinstance(charset, str):
        return
    from pymysql.charset import charset_by_name

    try:
        known = charset_by_name(charset) is not None
    except KeyError:
        known = False
    if not known:
        raise InvalidInputError(
            f"unknown MySQL character set {charset!r} in the URL's ?charset= "
            "(utf8mb4, the default, is what stock APScheduler's tables use)"
        )
