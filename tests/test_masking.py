"""No part of a password reaches an output, however the store URL is written."""

from __future__ import annotations

import json
import string
from urllib.parse import quote, unquote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.conftest import Invoke
from whalefall_sched.masking import FRAGMENT, MASK, mask_url, redact, url_secrets

PASSWORD = "Hunter2Secret"


def _fragments(secret: str) -> set[str]:
    """Every ``FRAGMENT``-character slice of ``secret``."""
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}


def _leaks(secret: str, text: str, public: str = "") -> set[str]:
    """The fragments of ``secret`` in ``text`` that the ``public`` text does not hold."""
    return {f for f in _fragments(secret) if f in text and f not in public}


# -- mask_url: examples ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        pytest.param(
            "postgresql+psycopg://ops:Hunter2Secret/x@127.0.0.1:1/whalefall",
            "postgresql+psycopg://ops:***@127.0.0.1:1/whalefall",
            id="slash",
        ),
        pytest.param("ops:Hunter2Secret@h/db", "ops:***@h/db", id="no-scheme"),
        pytest.param("pg://ops:a?b#c:d@h/db", "pg://ops:***@h/db", id="query-fragment-colon"),
        pytest.param("pg://ops:Hun@ter@2@h:5432/db", "pg://ops:***@h:5432/db", id="raw-ats"),
        pytest.param("pg://ops:p%40ss%2F@h/db", "pg://ops:***@h/db", id="percent-encoded"),
        pytest.param("mysql+pymysql://:Hunter2@h/db", "mysql+pymysql://:***@h/db", id="no-user"),
        pytest.param("pg://ops:Hunter2@[::1]:5432/db", "pg://ops:***@[::1]:5432/db", id="ipv6"),
        pytest.param(
            "pg://ops@h/db?sslmode=require&password=Hunter2",
            "pg://ops@h/db?sslmode=require&password=***",
            id="query-password",
        ),
        pytest.param(
            "pg://ops@h/db?password=Hun&ter2&sslmode=require",
            "pg://ops@h/db?password=***",
            id="query-password-with-ampersand",
        ),
        pytest.param(
            "pg://ops@h/db?sslpassword=Hunter2", "pg://ops@h/db?sslpassword=***", id="ssl"
        ),
        pytest.param(
            "pg://ops@h/db?Pass%77ord=Hunter2", "pg://ops@h/db?Pass%77ord=***", id="encoded-key"
        ),
        pytest.param("post gres://ops:Hunter2@h/db", "***@h/db", id="garbage-scheme"),
        pytest.param(" pg://ops:Hunter 2\n@h/db ", " pg://ops:***@h/db ", id="whitespace"),
        pytest.param("pg://ops/x:Hunter2@h/db", "pg://***@h/db", id="odd-user"),
        pytest.param("pg:///ops:Hunter2@h/db", "pg://***@h/db", id="three-slashes"),
        pytest.param("pg://ops:Hunter2Secret", "pg://ops:***", id="no-host"),
        pytest.param("pg://ops:Hunter2Secret/whalefall", "pg://ops:***", id="no-host-with-db"),
        pytest.param("ops:Hunter2Secret", "ops:***", id="bare-user-password"),
        # Nothing to hide: kept as written.
        pytest.param("pg://ops@h:5432/db", "pg://ops@h:5432/db", id="user-only"),
        pytest.param("pg://ops:@h/db", "pg://ops:@h/db", id="empty-password"),
        pytest.param("pg://h:5432/db", "pg://h:5432/db", id="host-port"),
        pytest.param("pg://[::1]:5432/db", "pg://[::1]:5432/db", id="ipv6-no-user"),
        pytest.param("pg://ops@h/db?application_name=a@b", "pg://ops@h/db?application_name=a@b"),
        pytest.param("sqlite:///userdata/scheduler.db", "sqlite:///userdata/scheduler.db"),
        pytest.param(
            "sqlite:////srv/me@corp/jobs.db", "sqlite:////srv/me@corp/jobs.db", id="at-path"
        ),
        pytest.param("userdata/scheduler.db", "userdata/scheduler.db", id="a-path"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_backup_store_field_never_holds_the_password() -> None:
    # `reload`'s backup file records mask_url(url) as its "store".
    for url in (
        "postgresql+psycopg://ops:Hunter2Secret/x@127.0.0.1:1/whalefall",
        "mysql+pymysql://ops:Hunter2Secret@db:3306/whalefall?charset=utf8mb4",
        "postgresql+psycopg://ops@db/whalefall?password=Hunter2Secret",
    ):
        assert not _leaks(PASSWORD, json.dumps({"store": mask_url(url)}))


def test_url_secrets_hold_what_the_driver_may_see() -> None:
    # SQLAlchemy ends the password at the first '@' and gives the rest to the host.
    assert set(url_secrets("pg://ops:Hun@ter2Secret@h/db")) >= {"Hun@ter2Secret", "Hun"}
    assert set(url_secrets("pg://ops:Hunter%2F2@h/db")) >= {"Hunter%2F2", "Hunter/2"}
    assert set(url_secrets("pg://ops@h/db?password=Hunter2+x")) >= {"Hunter2+x", "Hunter2 x"}
    assert url_secrets("pg://ops@h:5432/db") == []
    assert url_secrets("sqlite:////srv/a:b@c/jobs.db") == []


# -- mask_url and redact: any password, in any shape -----------------------------------------

#: URL shapes a password is written into; ``{pw}`` is the password.
SHAPES = [
    "postgresql+psycopg://ops:{pw}@127.0.0.1:1/whalefall",
    "postgresql+psycopg://ops:{pw}@[::1]:5432/whalefall?sslmode=require",
    "mysql+pymysql://:{pw}@db.example:3306/whalefall",
    "ops:{pw}@db.example/whalefall",
    "post gres://ops:{pw}@db.example/whalefall",
    "  postgresql://ops:{pw}@db.example/whalefall\n",
    "postgresql+psycopg:///ops:{pw}@db.example/whalefall",
    "postgresql+psycopg://ops@db.example/whalefall?sslmode=require&password={pw}",
    "postgresql+psycopg://ops:{pw}@db.example/whalefall?password={pw}",
]
#: Printable characters (whitespace too) and a few beyond ASCII; no '*', the mask's own.
PASSWORDS = st.text(
    alphabet=st.sampled_from(string.printable.replace("*", "") + "é密码ß€"),
    min_size=FRAGMENT,
    max_size=40,
)


def _public(shape: str) -> str:
    """What the URL shows besides the password (masked, it may show all of that)."""
    return shape.replace("{pw}", MASK)


@settings(max_examples=400, deadline=None)
@given(password=PASSWORDS, shape=st.sampled_from(SHAPES))
def test_no_fragment_of_a_password_survives_mask_url(password: str, shape: str) -> None:
    # 'ops:' followed by '//' reads as the scheme 'ops' in any parser: a URL, not a password.
    assume(not (shape.startswith("ops:") and password.startswith("//")))
    url = shape.replace("{pw}", password)
    masked = mask_url(url)
    assert not _leaks(password, masked, _public(shape)), masked
    assert not _leaks(unquote(password), masked, _public(shape)), masked


@settings(max_examples=300, deadline=None)
@given(password=PASSWORDS, shape=st.sampled_from(SHAPES[:7]))
def test_no_fragment_of_a_password_survives_redact(password: str, shape: str) -> None:
    assume(not (shape.startswith("ops:") and password.startswith("//")))
    url = shape.replace("{pw}", password)
    # Driver messages echo the URL, or the parts a mis-split URL gave the host/database.
    echoes = [url, url.strip(), *password.split("@"), *password.split("/"), quote(password)]
    text = " | ".join(f"error near {echo!s}" for echo in echoes)
    redacted = redact(text, url)
    assert not _leaks(password, redacted, _public(shape)), redacted


def test_redact_masks_other_urls_credentials_in_any_text() -> None:
    text = "failed for hunter2 via mysql+pymysql://a:b/c@d/e and x://y:z@w?pwd=s3cret"
    masked = redact(text, "postgresql://ops@h/db?password=hunter2")
    assert masked == "failed for *** via mysql+pymysql://a:***@d/e and x://y:***@w?pwd=***"


def test_redact_a_host_the_password_spilled_into() -> None:
    url = "postgresql+psycopg://ops:Hunter/Two@Secret@127.0.0.1:1/x"
    message = "failed to resolve host 'Secret@127.0.0.1': Name or service not known"
    assert (
        redact(message, url) == "failed to resolve host '***@127.0.0.1': Name or service not known"
    )


def test_redact_leaves_a_text_without_secrets_alone() -> None:
    text = "connection to server at 127.0.0.1, port 1 failed: Connection refused"
    assert redact(text, "postgresql+psycopg://ops@127.0.0.1:1/x") == text
    assert redact(text, "sqlite:///userdata/scheduler.db") == text


# -- the CLI, end to end ------------------------------------------------------------------

#: A password whose fragments no message holds by chance ("Hunter2Secret" shares "nter"
#: with "internal").
CLI_PASSWORD = "Hq7Zx9Wk2Vb3"
CLI_URLS = [
    pytest.param(f"postgresql+psycopg://ops:{CLI_PASSWORD}/x@127.0.0.1:1/whalefall", id="slash"),
    pytest.param(f"ops:{CLI_PASSWORD}@127.0.0.1:1/whalefall", id="no-scheme"),
    pytest.param(f"postgresql+psycopg://ops:{CLI_PASSWORD}", id="no-host"),
    pytest.param(f"postgresql+psycopg://ops:{CLI_PASSWORD}/whalefall", id="no-host-db"),
    pytest.param(f"post gres://ops:{CLI_PASSWORD}@127.0.0.1:1/whalefall", id="garbage-scheme"),
    pytest.param(f"postgresql+psycopg://ops:{CLI_PASSWORD}%2F%3F@[::1]:1/x", id="ipv6-encoded"),
    pytest.param(f"postgresql+psycopg://ops@127.0.0.1:1/x?password={CLI_PASSWORD}&x", id="query"),
    pytest.param(f" postgresql+psycopg://ops:{CLI_PASSWORD} x@127.0.0.1:1/whalefall ", id="space"),
    # SQLAlchemy gives what follows the first '@' to the host: the driver echoes it.
    pytest.param("postgresql+psycopg://ops:Hq7Z/x9Wk@2Vb3@127.0.0.1:1/whalefall", id="raw-at"),
    # No host: the path is the database, and the driver may name it.
    pytest.param(f"postgresql+psycopg:///ops:{CLI_PASSWORD}@127.0.0.1:1/x", id="three-slashes"),
]
COMMANDS = [
    pytest.param(["status"], id="status"),
    pytest.param(["status", "-o", "json"], id="status-json"),
    pytest.param(["list", "-o", "json"], id="list-json"),
    pytest.param(["get", "x"], id="get"),
    pytest.param(["pause", "x"], id="pause"),
]


@pytest.mark.parametrize("url", CLI_URLS)
@pytest.mark.parametrize("command", COMMANDS)
def test_the_cli_never_prints_a_password_fragment(
    cli: Invoke, url: str, command: list[str]
) -> None:
    result = cli("--timeout", "1", *command, url=url)
    assert result.exit_code != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for secret in (CLI_PASSWORD, "Hq7Z/x9Wk@2Vb3"):
        assert not _leaks(secret, output), output


@pytest.mark.parametrize("command", COMMANDS)
def test_the_issue_url_is_masked_whole(cli: Invoke, command: list[str]) -> None:
    url = f"postgresql+psycopg://ops:{PASSWORD}/x@127.0.0.1:1/whalefall"
    result = cli("--timeout", "1", *command, url=url)
    assert result.exit_code != 0
    output = result.stdout + result.stderr
    assert PASSWORD not in output and "/x@" not in output
    assert "postgresql+psycopg://ops:***@127.0.0.1:1/whalefall" in output


def test_debug_tracebacks_never_print_a_password_fragment(cli: Invoke) -> None:
    url = f"postgresql+psycopg://ops:{CLI_PASSWORD}"
    result = cli("--debug", "--timeout", "1", "status", url=url)
    assert "Traceback" in result.stderr
    assert not _leaks(CLI_PASSWORD, result.stdout + result.stderr)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://ops:{CLI_PASSWORD[:6]}/x@{CLI_PASSWORD[6:]}@127.0.0.1:1/db",
        f"postgresql+psycopg://ops:{CLI_PASSWORD}",  # no host: the password reads as a port
    ],
    ids=["raw-at-after-a-slash", "password-as-port"],
)
def test_urls_the_driver_must_never_see_are_usage_errors(cli: Invoke, url: str) -> None:
    result = cli("--timeout", "1", "list", "-o", "json", url=url)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: invalid store URL")
    assert not _leaks(CLI_PASSWORD, result.stdout + result.stderr)
