"""Keep passwords out of everything an operator reads.

The rule is conservative: a store URL is not trusted to be well formed, so whatever
could be part of a password is masked, even if that hides more than the password.

* The user information is everything between the scheme separator (``://``, or the
  start when there is none) and the *last* ``@``: a password may hold ``/``, ``?``,
  ``#``, ``:``, ``@`` or spaces. Without a ``:`` it holds no password and is kept;
  else its user name is kept when it is plain (no ``:``, ``/``, ``?``, ``#``, ``@`` or
  space) and followed by ``:``, and anything else there is masked whole.
* With no ``@``, an authority that is not ``host[:digits]`` (``user:password`` with
  the host left out) is masked from its first ``:`` to the end.
* A query parameter whose name looks secret (``password``, ``passwd``, ``pwd``,
  ``sslpassword``, ``*secret*``, ``*token*``...) is masked with everything after it.
* A ``sqlite:///path`` URL has no user information: its path is kept as it is.

:func:`redact` also masks, in any text, every 4-character fragment of the URL's
secrets (and shorter secrets standing alone), so a driver message echoing a part of
the URL (a mis-split host or database name) shows no part of the password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, unquote_plus

MASK = "***"
#: Query-string keys that carry a password in SQLAlchemy/driver URLs.
SECRET_KEYS = frozenset({"password", "passwd", "pwd"})
#: Fragments of a query key that make it secret (``sslpassword``, ``api_token``...).
_SECRET_KEY_PARTS = ("pass", "pwd", "secret", "token")
#: The shortest fragment of a secret :func:`redact` masks wherever it appears.
FRAGMENT = 4

#: ``scheme://`` at the start (SQLAlchemy's drivername syntax, loosely).
_SCHEME = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.\-]*://")
#: A user name that is surely only a user name.
_PLAIN_USER = re.compile(r"[^:/?#@\s]*")
#: ``host``, ``host:port`` or ``[v6]:port``: an authority that holds no password.
_HOST_PORT = re.compile(r"(?:\[[^\]]*\]|[^:\[\]]*)(?::\d*)?")
#: ``?key=`` or ``&key=`` anywhere.
_QUERY_KEY = re.compile(r"[?&;]([^=&;?#]*)=")
#: The next ``&name=`` pair after a query value.
_NEXT_PAIR = re.compile(r"&[A-Za-z_][\w.\-]*=")
#: ``scheme://user:password@`` anywhere in a text (up to the last ``@`` of the word).
_CREDENTIALS = re.compile(r"([A-Za-z][\w+.-]*://[^\s:/@]*:)\S+@")
_QUERY_SECRET = re.compile(
    r"([?&;][\w.%-]*?(?:pass|pwd|secret|token)[\w.%-]*=)[^&\s'\"]+", re.IGNORECASE
)
#: SQLite drivers: no server, no credentials, ``sqlite:///`` then a path.
_SQLITE = frozenset({"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"})


def _secret_key(key: str) -> bool:
    name = unquote_plus(key).strip().lower()
    return name in SECRET_KEYS or any(part in name for part in _SECRET_KEY_PARTS)


def _split_query_secret(url: str) -> tuple[str, str]:
    """``url`` cut just after its first secret ``key=``: (head, the rest)."""
    for match in _QUERY_KEY.finditer(url):
        if _secret_key(match.group(1)):
            return url[: match.end()], url[match.end() :]
    return url, ""


def _scheme(url: str) -> tuple[str, str]:
    """(``scheme://`` with any leading space, the rest); no scheme: ("", url)."""
    match = _SCHEME.match(url)
    return (match.group(0), url[match.end() :]) if match else ("", url)


def _userinfo_split(rest: str) -> tuple[str, str, str] | None:
    """(kept user part, secret part, from the last ``@`` on), or None without ``@``."""
    at = rest.rfind("@")
    if at < 0:
        return None
    userinfo = rest[:at]
    user = _PLAIN_USER.match(userinfo)
    assert user is not None  # the pattern matches the empty string
    if user.end() == len(userinfo) or ":" not in userinfo:
        return userinfo, "", rest[at:]  # no ':', no password: a user name (or '@'s) alone
    if userinfo[user.end()] == ":":
        return userinfo[: user.end() + 1], userinfo[user.end() + 1 :], rest[at:]
    return "", userinfo, rest[at:]


def _hostless_secret(rest: str) -> tuple[str, str]:
    """Without ``@``: (kept part, secret part) of ``user:password/...``."""
    authority = re.match(r"[^/?#]*", rest)
    assert authority is not None
    if _HOST_PORT.fullmatch(authority.group(0)) or ":" not in authority.group(0):
        return rest, ""
    colon = rest.index(":")
    return rest[: colon + 1], rest[colon + 1 :]


def _parts(url: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """``url`` as (text, masked) pieces, and what of it may be a password."""
    head, query_tail = _split_query_secret(url)
    scheme, rest = _scheme(head)
    pieces: list[tuple[str, bool]] = [(scheme, False)]
    secrets: list[str] = []
    if scheme.strip()[:-3].lower() in _SQLITE and rest.startswith("/"):
        pieces.append((rest, False))
    elif (split := _userinfo_split(rest)) is not None:
        kept, secret, host = split
        pieces += [(kept, False), (secret, True), (host, False)]
        # SQLAlchemy ends the password at the first '@' (the rest goes to the host).
        secrets += [secret, secret.partition("@")[0]] if kept.endswith(":") else [secret]
    else:
        kept, secret = _hostless_secret(rest)
        pieces += [(kept, False), (secret, True)]
        secrets.append(secret)
    if query_tail:
        # Masked to the end; the password itself runs to the next '&name=' (a raw '&'
        # may be part of it), as far as the driver sees it to the first '&'.
        pieces.append((query_tail, True))
        secrets += [_NEXT_PAIR.split(query_tail, maxsplit=1)[0], query_tail.partition("&")[0]]
    return pieces, secrets


def authority(url: str) -> str:
    """The ``user:password@host:port`` part of a URL (empty when it has none)."""
    _, sep, rest = url.partition("://")
    return rest.partition("/")[0].partition("?")[0] if sep else ""


def url_secrets(url: str) -> list[str]:
    """What of ``url`` may be a password (raw and decoded), longest first."""
    found: set[str] = set()
    for text in _parts(url)[1]:
        found.update({text, unquote(text), unquote_plus(text), quote(unquote(text), safe="")})
    return sorted((s for s in found if s.strip()), key=len, reverse=True)


def mask_url(url: str) -> str:
    """``url`` with whatever may be a password replaced by ``***`` (see the module)."""
    pieces, _ = _parts(url)
    return "".join(MASK if secret and text else text for text, secret in pieces)


def _mask_fragments(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every run covered by a secret's ``FRAGMENT``-character slices masked."""
    slices = {s[i : i + FRAGMENT] for s in secrets for i in range(len(s) - FRAGMENT + 1)}
    if not slices:
        return text
    covered = bytearray(len(text))
    for i in range(len(text) - FRAGMENT + 1):
        if text[i : i + FRAGMENT] in slices:
            covered[i : i + FRAGMENT] = b"\x01" * FRAGMENT
    if not any(covered):
        return text
    out: list[str] = []
    start = 0
    while start < len(text):
        end = start
        while end < len(text) and covered[end] == covered[start]:
            end += 1
        out.append(MASK if covered[start] else text[start:end])
        start = end
    return "".join(out)


def redact(text: str, url: str | None = None) -> str:
    """``text`` with ``url``'s secrets (any fragment of them) and any URL credentials masked."""
    if url:
        for form in sorted({url, url.strip()}, key=len, reverse=True):
            if form:
                text = text.replace(form, mask_url(url))
        secrets = url_secrets(url)
        text = _mask_fragments(text, [s for s in secrets if len(s) >= FRAGMENT])
        for secret in (s for s in secrets if len(s) < FRAGMENT):
            text = re.sub(rf"(?<![\w.]){re.escape(secret)}(?![\w.])", MASK, text)
    text = _CREDENTIALS.sub(rf"\1{MASK}@", text)
    return _QUERY_SECRET.sub(rf"\1{MASK}", text)
