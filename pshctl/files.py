"""Files and directories pshctl creates, with explicit modes whatever the umask.

Under ``umask 000`` a plain ``write_text`` or ``mkdir`` makes world-writable files; for
the sandbox's ``authorized_keys`` (read by an sshd with ``StrictModes no``) that let any
local user log in as its owner. Everything pshctl writes goes through here instead:
created with its final mode set explicitly (never looser for a moment), replaced
atomically where a reader may look at the same time.

Directories that already exist are left as they are: they may be the user's own
(``PSHCTL_STATE_DIR=/tmp/x``), and pshctl does not change modes it did not set.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SCRIPT = 0o755  # run by the same user; not writable by anyone else


def existing_mode(path: Path) -> int | None:
    """``path``'s ``st_mode``; None when nothing is there (other OSErrors propagate:
    ``/dev/null/x`` raises "Not a directory")."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None


def make_dirs(path: Path, mode: int = PRIVATE_DIR) -> Path:
    """``mkdir -p`` where every directory created gets exactly ``mode``."""
    path = Path(path)
    missing = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:  # made at the same moment by another process
            continue
        os.chmod(directory, mode)  # mkdir's mode is masked by the umask
    if not path.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(path))
    return path


def write_file(path: Path, data: str | bytes, mode: int = PRIVATE_FILE) -> Path:
    """Replace ``path`` atomically with ``data``; the file has ``mode`` from its first byte."""
    path = Path(path)
    make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def open_append(path: Path, mode: int = PRIVATE_FILE) -> int:
    """A descriptor appending to ``path``; created with ``mode`` when it did not exist.

    An existing file keeps its mode, except that no one else may write to it.
    """
    path = Path(path)
    make_dirs(path.parent)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
        os.fchmod(fd, mode)
        return fd
    except FileExistsError:
        pass
    fd = os.open(path, flags)
    current = os.fstat(fd).st_mode & 0o7777
    if current & 0o022:
        os.fchmod(fd, current & ~0o022)
    return fd


def append_private(path: Path, text: str) -> None:
    """Append ``text`` to a private file (created 0600)."""
    with os.fdopen(open_append(path), "a", encoding="utf-8") as handle:
        handle.write(text)


def touch(path: Path, mode: int = PRIVATE_FILE) -> Path:
    """Create ``path`` empty with ``mode`` unless it exists."""
    os.close(open_append(path, mode))
    return Path(path)
