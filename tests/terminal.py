"""A command run with its stdout on a real pseudo-terminal of a given width."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from dataclasses import dataclass


@dataclass
class Run:
    """What a command did: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def run_on_terminal(
    argv: list[str], *, columns: int, env: dict[str, str], stdin_too: bool = True
) -> Run:
    """Run ``argv`` with stdout (and stdin, unless not ``stdin_too``) on a pseudo-terminal
    ``columns`` wide; stderr is a pipe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        child = subprocess.Popen(
            argv,
            stdin=slave if stdin_too else subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env,
        )
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert child.stderr is not None
    stderr = child.stderr.read().decode()
    child.stderr.close()
    child.wait(timeout=60)
    stdout = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return Run(child.returncode, stdout, stderr)
