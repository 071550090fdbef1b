"""The console script's entry point: a bytecode cache first, then the command line.

Where ``PYTHONDONTWRITEBYTECODE`` is set (many containers, CI images) and the
environment was installed without ``.pyc`` files (``uv sync`` compiles none by
default), every start would compile SQLAlchemy, Typer, Rich and this package from
source: more than twice the start-up time. The console script therefore keeps the
bytecode it compiles in the user's cache directory (``$XDG_CACHE_HOME/whalefall-sched/
pycache``, else ``~/.cache/...``) through :data:`sys.pycache_prefix`, outside every
source tree, and Python checks each cached file against its source's size and mtime.
A ``PYTHONPYCACHEPREFIX`` chosen by the caller is kept; where Python writes bytecode
anyway nothing changes. See docs/architecture.md, "Start-up and reads".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def bytecode_cache_dir() -> Path | None:
    """Where this console script keeps its bytecode; None when there is no cache home."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or ".")
    if not base.is_absolute():
        try:
            home = Path("~").expanduser()
        except RuntimeError:  # no home directory to be found
            return None
        if not home.is_absolute():
            return None
        base = home / ".cache"
    return base / "whalefall-sched" / "pycache"


def _use_bytecode_cache() -> None:
    """Compile once, into the user's cache, where the interpreter would keep nothing."""
    if not sys.dont_write_bytecode or sys.pycache_prefix is not None:
        return
    prefix = bytecode_cache_dir()
    if prefix is not None:
        sys.pycache_prefix = str(prefix)
        sys.dont_write_bytecode = False


def main() -> None:
    """Console-script entry point (``whalefall-sched``)."""
    _use_bytecode_cache()
    from whalefall_sched.cli import main as cli_main

    cli_main()
