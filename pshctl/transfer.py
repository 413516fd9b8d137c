"""Copies between this machine and a worker's container, over SFTP (``pshctl cp``).

SFTP runs on pshctl's own SSH session (:func:`pshctl.ssh.connect`), so a copy reaches
the same targets with the same host-key policy and authentication as every other
command. (fabric's transfer helpers, which wrap the same paramiko SFTP client, report
no progress and would cost the import of fabric and invoke.)

A copy never leaves a half-written file under the name asked for: it writes a
temporary file next to it and renames it into place once every byte is there (on the
remote with OpenSSH's ``posix-rename``, which replaces an existing file at once).
An interrupted or failed copy removes its temporary file.

Where a write is refused, one more command on the same connection says why: no such
directory, or a directory that is not writable (on Platform.sh everything but the
mounts is a read-only file system).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import shlex
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pshctl.errors import (
    ConnectionFailed,
    NameNotFound,
    OperationFailed,
    PshctlError,
    UsageError,
)

if TYPE_CHECKING:
    import paramiko

    from pshctl.ssh import Session

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
Direction = Literal["upload", "download"]
TEMP_MARK = ".pshctl-part-"

# Exit statuses of the diagnosis script (WHY_SCRIPT) for a directory the copy needs.
NO_DIRECTORY = 3
NOT_WRITABLE = 4
WHY_SCRIPT = f'[ -d "$1" ] || exit {NO_DIRECTORY}; [ -w "$1" ] || exit {NOT_WRITABLE}; exit 0'


@dataclass(frozen=True)
class Location:
    """One side of a copy: ``worker`` is None for this machine; for the app container
    it is the app's name, as elsewhere."""

    path: str
    worker: str | None = None

    @property
    def remote(self) -> bool:
        return self.worker is not None

    def __str__(self) -> str:
        return f"{self.worker}:{self.path}" if self.worker is not None else self.path


@dataclass(frozen=True)
class CopyResult:
    """What one copy did (field names are the JSON names)."""

    direction: Direction
    worker: str
    source: str  # as given, e.g. ``queue:/app/var/dump.sql``
    destination: str  # where it went, the file name filled in: ``./dump.sql``
    size_bytes: int
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data


class CopyFailed(OperationFailed):
    """A copy was refused or broke off; the message names the path and the reason."""


def parse_location(text: str, workers: Sequence[str], app: str) -> Location:
    """``WORKER:PATH`` (``APP:PATH`` for the app container, ``WORKER.N:PATH`` for one
    instance of a scaled worker) or a local path.

    A local path with a colon in its first part is written ``./name:x``. A word before
    the colon that names no worker is an error that lists the workers, never a file.
    """
    from pshctl.targets.instances import split_name

    head, colon, path = text.partition(":")
    if not colon or "/" in head or not head:
        return Location(text)
    if head in workers or head == app or split_name(head, workers)[1] is not None:
        return Location(path, head)  # a worker, the app, or one instance (`queue.1`)
    raise NameNotFound("worker", head, [*workers, app],
                       hint=f"valid: {', '.join([*workers, app])} (the app's name is its "
                       f"web container); a local file whose name has a colon: ./{text}")


def plan(source: Location, destination: Location) -> tuple[Direction, str]:
    """Which way a copy goes, and the worker on the other end; UsageError for the rest."""
    if source.remote and destination.remote:
        raise UsageError("cp copies between this machine and one container",
                         hint="copy to a local file first, then from it")
    if not (source.remote or destination.remote):
        raise UsageError("neither side names a container",
                         hint="pshctl cp FILE WORKER:PATH  or  pshctl cp WORKER:PATH FILE")
    if source.remote:
        assert source.worker is not None
        return "download", source.worker
    assert destination.worker is not None
    return "upload", destination.worker


# --- the SFTP side ---------------------------------------------------------------------


def open_sftp(session: Session) -> paramiko.SFTPClient:
    import paramiko

    try:
        client = paramiko.SFTPClient.from_transport(session.transport)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        if not session.transport.is_active():
            raise ConnectionFailed(f"lost the connection to {session.where}") from None
        raise CopyFailed(f"{session.where} offers no SFTP ({exc or type(exc).__name__})",
                         hint="the server's sshd needs a `Subsystem sftp` line") from None
    if client is None:
        raise CopyFailed(f"{session.where} refused the SFTP channel")
    return client


def upload(session: Session, local: str | os.PathLike[str], remote: str, *,
           progress: Progress | None = None) -> CopyResult:
    """Copy a local file to ``remote`` (a directory, or ending in ``/``: into it)."""
    worker = session.target.name
    source = Path(local)
    size = _local_file(source).st_size
    began = time.monotonic()
    with open_sftp(session) as sftp:
        target = _remote_target(sftp, remote, source.name)
        temporary = _temporary(target, posixpath)
        shown = f"{worker}:{target}"
        try:
            with source.open("rb") as data:
                sftp.putfo(data, temporary, file_size=size, callback=progress, confirm=True)
            sftp.chmod(temporary, stat.S_IMODE(source.stat().st_mode))
            _replace(sftp, temporary, target)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                sftp.remove(temporary)
            if isinstance(exc, OSError):
                raise _refused(session, exc, shown, posixpath.dirname(target)) from None
            raise
    return CopyResult("upload", worker, str(source), shown, size, time.monotonic() - began)


def download(session: Session, remote: str, local: str | os.PathLike[str], *,
             progress: Progress | None = None) -> CopyResult:
    """Copy ``remote`` to a local file (an existing directory, or ending in ``/``: into it)."""
    worker = session.target.name
    began = time.monotonic()
    with open_sftp(session) as sftp:
        path = remote or "."
        shown = f"{worker}:{path}"
        try:
            info = sftp.stat(path)
        except OSError as exc:
            raise _refused(session, exc, shown, None, reading=True) from None
        if info.st_mode is not None and stat.S_ISDIR(info.st_mode):
            raise CopyFailed(f"{shown} is a directory; cp copies one file",
                             hint=_archive_hint(session, path))
        target = _local_target(Path(local), posixpath.basename(path.rstrip("/")))
        temporary = Path(_temporary(str(target), os.path))
        try:
            with _LocalFile(temporary) as out:
                sftp.getfo(path, out, callback=progress, prefetch=True)  # type: ignore[arg-type]
            if info.st_mode is not None:
                os.chmod(temporary, stat.S_IMODE(info.st_mode) & ~_umask())
            os.replace(temporary, target)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            if isinstance(exc, OSError):
                raise _refused(session, exc, shown, None, reading=True) from None
            raise
    return CopyResult("download", worker, shown, str(target), info.st_size or 0,
                      time.monotonic() - began)


def _local_file(path: Path) -> os.stat_result:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CopyFailed(f"no such file: {path}") from None
    except OSError as exc:
        raise CopyFailed(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CopyFailed(f"{path} is a directory; cp copies one file",
                         hint=f"tar cf - {shlex.quote(str(path))} | pshctl ssh --worker "
                         "WORKER -- tar xf - -C DIR")
    if not os.access(path, os.R_OK):
        raise CopyFailed(f"cannot read {path}: permission denied")
    return info


def _remote_target(sftp: paramiko.SFTPClient, remote: str, name: str) -> str:
    """The remote file's path: ``remote`` itself, or ``name`` inside it if a directory."""
    if not remote or remote.endswith("/"):
        return posixpath.join(remote or ".", name)
    try:
        mode = sftp.stat(remote).st_mode
    except OSError:
        return remote  # a new file (its directory is checked when it is written)
    return posixpath.join(remote, name) if mode is not None and stat.S_ISDIR(mode) else remote


def _local_target(local: Path, name: str) -> Path:
    if str(local).endswith(os.sep) or local.is_dir():
        if not local.is_dir():
            raise CopyFailed(f"no such directory: {local}")
        return local / name
    if not local.parent.is_dir():
        raise CopyFailed(f"no such directory: {local.parent}")
    return local


def _temporary(path: str, paths: Any) -> str:
    """A name next to ``path`` that no one else uses: ``.NAME.pshctl-part-<random>``."""
    head, name = paths.split(path)
    return paths.join(head, f".{name}{TEMP_MARK}{secrets.token_hex(4)}")


def _replace(sftp: paramiko.SFTPClient, temporary: str, target: str) -> None:
    try:
        sftp.posix_rename(temporary, target)
    except OSError as exc:
        if "unsupported" not in str(exc).lower() and exc.errno != errno.EOPNOTSUPP:
            raise
        # An SFTP server without OpenSSH's extension: rename refuses an existing target.
        with contextlib.suppress(OSError):
            sftp.remove(target)
        sftp.rename(temporary, target)


class _LocalFile:
    """The local file a download writes: its errors name it (a full disk is not the
    remote's fault)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = path.open("xb")
        except OSError as exc:
            raise CopyFailed(f"cannot write in {path.parent}: {exc.strerror}") from None

    def write(self, data: bytes) -> int:
        try:
            return self._file.write(data)
        except OSError as exc:
            raise CopyFailed(f"cannot write {self.path}: {exc.strerror}") from None

    def __enter__(self) -> _LocalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _refused(session: Session, exc: OSError, shown: str, directory: str | None, *,
             reading: bool = False) -> PshctlError:
    """A remote refusal as a message that says what to do; asks the remote why if needed."""
    if not session.transport.is_active():
        return ConnectionFailed(f"lost the connection to {session.where} while copying {shown}")
    reason = exc.strerror or str(exc) or type(exc).__name__
    if reading:
        if exc.errno == errno.ENOENT:
            return CopyFailed(f"no such file: {shown}")
        return CopyFailed(f"cannot read {shown}: {reason}")
    why = _why(session, directory or ".")
    if why == NO_DIRECTORY:
        return CopyFailed(f"cannot write {shown}: no directory {directory}")
    if why == NOT_WRITABLE or exc.errno == errno.EACCES:
        return CopyFailed(f"cannot write {shown}: {directory} is read-only or not writable "
                          f"({reason})", hint=_writable_hint(session))
    return CopyFailed(f"cannot write {shown}: {reason}")


def _writable_hint(session: Session) -> str:
    target = session.target
    show = f"workers show {target.worker}" if target.worker else "workers"
    return f"on Platform.sh only mounts (and /tmp) are writable: `pshctl {show}` lists them"


def _why(session: Session, directory: str) -> int | None:
    try:
        return session.run(["sh", "-c", WHY_SCRIPT, "sh", directory], timeout=30).exit_status
    except (OperationFailed, ConnectionFailed):
        return None


def _archive_hint(session: Session, path: str) -> str:
    worker = session.target.worker
    ssh = f"pshctl ssh --worker {worker}" if worker else "pshctl ssh"
    where = shlex.quote(posixpath.dirname(path.rstrip("/")) or ".")
    return f"{ssh} -- tar cf - -C {where} {shlex.quote(posixpath.basename(path.rstrip('/')))} " \
           "| tar xf -"
