"""Delegated cgroups for the sandbox's systemd user managers (root only).

A ``systemd --user`` needs a cgroup of its own it may write to, in every hierarchy that
tracks processes: the unified (cgroup2) one and, on hybrid machines, the named v1
``name=systemd`` one. :class:`Cgroup` creates the same relative path in each, moves
processes in, kills everything in it and removes it, deepest directories first (a
cgroup with children cannot be removed). Nothing here touches cgroups it did not create.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


def hierarchies() -> list[Path]:
    """Mount points of the unified hierarchy and of v1 ``name=systemd``, if mounted."""
    found: list[Path] = []
    try:
        lines = MOUNTINFO.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if " - " not in line:
            continue
        mount_point = fields[4]
        after = line.split(" - ", 1)[1].split()
        fstype, options = after[0], after[2] if len(after) > 2 else ""
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options.split(",")):
            found.append(Path(mount_point.replace("\\040", " ")))
    # The unified hierarchy first: it is the one that can kill a whole subtree.
    return sorted(set(found), key=lambda p: not _unified(p))


def _unified(path: Path) -> bool:
    return (path / "cgroup.controllers").exists()


@dataclass(frozen=True)
class Cgroup:
    """One relative cgroup path (``pshctl-ab12.slice/user@0.service``) in every hierarchy."""

    relative: str

    def paths(self) -> list[Path]:
        return [top / self.relative for top in hierarchies()]

    def create(self) -> None:
        for path in self.paths():
            path.mkdir(parents=True, exist_ok=True)

    def procs_files(self) -> list[Path]:
        return [p / "cgroup.procs" for p in self.paths()]

    def pids(self) -> list[int]:
        """Every process in this cgroup and below it."""
        found: set[int] = set()
        for top in self.paths():
            if not top.is_dir():
                continue
            for directory, _, files in os.walk(top):
                if "cgroup.procs" in files:
                    with contextlib.suppress(OSError, ValueError):
                        text = (Path(directory) / "cgroup.procs").read_text()
                        found.update(int(x) for x in text.split())
        return sorted(found)

    def kill(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL everything in it (``cgroup.kill`` where the kernel has it); returns the
        pids that are still there after ``timeout``."""
        unified = next((p for p in self.paths() if _unified(p.parent) or
                        (p / "cgroup.kill").exists()), None)
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left or time.monotonic() > deadline:
                return left
            kill_file = unified / "cgroup.kill" if unified else None
            if kill_file is not None and kill_file.exists():
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
            else:
                for pid in left:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> list[Path]:
        """Remove it and its children, deepest first; returns what could not be removed."""
        left = []
        for top in self.paths():
            if not top.is_dir():
                continue
            directories = [Path(d) for d, _, _ in os.walk(top)]
            for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
                try:
                    directory.rmdir()
                except FileNotFoundError:
                    continue
                except OSError:
                    left.append(directory)
        return left

    def exists(self) -> bool:
        return any(p.is_dir() for p in self.paths())
