"""`pshctl cp` over SFTP against a real sshd: both ways, 50 MB, refused paths, a terminal."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pshctl.transfer import TEMP_MARK
from tests.helpers import REPO, CliRunner
from tests.terminal import Terminal
from tests.testbed import PROMPT, TestBed

pytestmark = pytest.mark.integration

BIG = 50 * 1024 * 1024
PSHCTL = REPO / ".venv" / "bin" / "pshctl"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()


def _random_file(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            f.write(chunk)
            left -= len(chunk)
    return path


@pytest.fixture
def bed(testbed: TestBed) -> tuple[TestBed, Path]:
    testbed.add_service("queue", PROMPT)
    return testbed, testbed.project(["queue"])


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if TEMP_MARK in p.name]


def test_a_50_mb_file_goes_there_and_back_unchanged(bed: tuple[TestBed, Path], cli: CliRunner,
                                                     tmp_path: Path) -> None:
    testbed, root = bed
    local = _random_file(tmp_path / "dump.bin", BIG)
    remote_dir = testbed.root / "mount"
    remote_dir.mkdir()

    up = cli("cp", str(local), f"queue:{remote_dir}/", "-e", "test", "--json", cwd=root)
    assert up.exit_code == 0, up
    copy = up.json["copy"]
    assert (copy["direction"], copy["worker"], copy["size_bytes"]) == ("upload", "queue", BIG)
    assert copy["destination"] == f"queue:{remote_dir}/dump.bin"
    assert _digest(remote_dir / "dump.bin") == _digest(local)
    assert _leftovers(remote_dir) == []

    back = tmp_path / "back"
    back.mkdir()
    down = cli("cp", f"queue:{remote_dir}/dump.bin", str(back), "-e", "test", cwd=root)
    assert down.exit_code == 0, down
    assert down.stdout.startswith(f"copied queue:{remote_dir}/dump.bin -> {back}/dump.bin (50.0M")
    assert _digest(back / "dump.bin") == _digest(local)
    assert _leftovers(back) == []


def test_a_copy_replaces_a_file_and_keeps_its_mode(bed: tuple[TestBed, Path], cli: CliRunner,
                                                   tmp_path: Path) -> None:
    testbed, root = bed
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho new\n")
    script.chmod(0o750)
    remote = testbed.root / "job.sh"
    remote.write_text("old\n")
    result = cli("cp", str(script), f"queue:{remote}", "-e", "test", cwd=root)
    assert result.exit_code == 0, result
    assert remote.read_text() == "#!/bin/sh\necho new\n"
    assert remote.stat().st_mode & 0o777 == 0o750


@pytest.fixture
def read_only_dir(testbed: TestBed) -> Iterator[Path]:
    """A directory the test bed's login cannot write: read-only as Platform.sh's app dir is
    (a read-only bind mount when we are root, since root may write anything else)."""
    path = testbed.root / "app-code"
    path.mkdir()
    (path / "index.php").write_text("<?php\n")
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_a_read_only_path_is_refused_clearly(bed: tuple[TestBed, Path], cli: CliRunner,
                                             tmp_path: Path, read_only_dir: Path) -> None:
    _, root = bed
    local = tmp_path / "patch.php"
    local.write_text("<?php echo 1;\n")
    result = cli("cp", str(local), f"queue:{read_only_dir}/", "-e", "test", cwd=root)
    assert result.exit_code == 1, result
    assert result.stdout == ""
    assert (f"error: cannot write queue:{read_only_dir}/patch.php: {read_only_dir} is "
            "read-only or not writable") in result.stderr
    assert "hint: on Platform.sh only mounts (and /tmp) are writable: `pshctl workers show " \
           "queue` lists them" in result.stderr
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["index.php"]


def test_missing_files_and_directories_are_named(bed: tuple[TestBed, Path], cli: CliRunner,
                                                 tmp_path: Path) -> None:
    testbed, root = bed
    missing = cli("cp", f"queue:{testbed.root}/nothing.txt", str(tmp_path), "-e", "test",
                  cwd=root)
    assert missing.exit_code == 1, missing
    assert f"error: no such file: queue:{testbed.root}/nothing.txt" in missing.stderr
    assert list(tmp_path.iterdir()) == []

    local = tmp_path / "a.txt"
    local.write_text("a\n")
    nodir = cli("cp", str(local), f"queue:{testbed.root}/no/such/dir/a.txt", "-e", "test",
                cwd=root)
    assert nodir.exit_code == 1, nodir
    assert f"no directory {testbed.root}/no/such/dir" in nodir.stderr

    folder = cli("cp", f"queue:{testbed.root}", str(tmp_path), "-e", "test", cwd=root)
    assert folder.exit_code == 1 and "is a directory; cp copies one file" in folder.stderr
    assert "hint: pshctl ssh --worker queue -- tar cf - -C" in folder.stderr


def test_wrong_names_are_usage_or_name_errors(bed: tuple[TestBed, Path], cli: CliRunner,
                                              tmp_path: Path) -> None:
    _, root = bed
    typo = cli("cp", "x.txt", "queu:/tmp/", "-e", "test", cwd=root)
    assert typo.exit_code == 3, typo
    assert "queu" in typo.stderr and "queue" in typo.stderr and "./queu:/tmp/" in typo.stderr
    both = cli("cp", "queue:/a", "app:/b", "-e", "test", cwd=root)
    assert both.exit_code == 2 and "between this machine and one container" in both.stderr
    neither = cli("cp", "a", "b", "-e", "test", cwd=root)
    assert neither.exit_code == 2 and "neither side names a container" in neither.stderr


def test_a_big_copy_shows_a_progress_bar_on_a_terminal(bed: tuple[TestBed, Path],
                                                       terminal: Terminal,
                                                       tmp_path: Path) -> None:
    testbed, root = bed
    local = _random_file(tmp_path / "big.bin", 8 * 1024 * 1024)
    terminal.start_shell(str(root), PSHCTL.parent)
    argv = [str(PSHCTL), "cp", str(local), f"queue:{testbed.root}/", "-e", "test"]
    terminal.type(f'{shlex.join(argv)}; echo "rc=$?"')
    screen = terminal.wait_for(lambda s: re.search(r"^rc=\d+", s, re.MULTILINE))
    assert re.search(r"^rc=0", screen, re.MULTILINE), screen
    assert "8.0/8.0 MiB" in screen, screen  # the finished bar stays, as scp's line does
    assert f"copied {local} -> queue:{testbed.root}/big.bin (8.0M" in screen, screen

    piped = subprocess.run([*argv, "--json"], cwd=root, capture_output=True, text=True,
                           timeout=120, check=False)
    assert piped.returncode == 0 and piped.stderr == "", piped
