"""Keep passwords out of everything an operator reads."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote

MASK = "***"
#: Query-string keys that carry a password in SQLAlchemy/driver URLs.
SECRET_KEYS = frozenset({"password", "passwd", "pwd"})
#: ``scheme://user:password@`` anywhere in a text.
_CREDENTIALS = re.compile(r"([A-Za-z][\w+.-]*://[^\s:/@]*:)[^\s@/]+@")
_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pwd)=)[^&\s'\"]+", re.IGNORECASE)


def authority(url: str) -> str:
    """The ``user:password@host:port`` part of a URL (empty when it has none)."""
    _, sep, rest = url.partition("://")
    return rest.partition("/")[0].partition("?")[0] if sep else ""


def url_secrets(url: str) -> list[str]:
    """The passwords a URL carries (in its authority or its query), longest first."""
    found: set[str] = set()
    userinfo, at, _ = authority(url).rpartition("@")
    if at and ":" in userinfo:
        password = userinfo.partition(":")[2]
        found.update({password, unquote(password)})
    for key, value in parse_qsl(url.partition("?")[2], keep_blank_values=True):
        if key.lower() in SECRET_KEYS:
            found.update({value, quote(value, safe="")})
    return sorted((s for s in found if s), key=len, reverse=True)


def redact(text: str, url: str | None = None) -> str:
    """``text`` with ``url``'s passwords and any URL credentials replaced by ``***``."""
    for secret in url_secrets(url) if url else []:
        text = text.replace(secret, MASK)
    text = _CREDENTIALS.sub(rf"\1{MASK}@", text)
    return _QUERY_SECRET.sub(rf"\1{MASK}", text)


def mask_url(url: str) -> str:
    """``url`` with its password (in the authority or the query) replaced by ``***``."""
    return redact(url, url)
