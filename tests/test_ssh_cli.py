"""`pshctl ssh` and `pshctl auth passphrase` end to end, on the test bed."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from pshctl.ssh.hostkeys import pshctl_known_hosts
from tests.helpers import CliRunner, run_pshctl
from tests.testbed import TestBed

pytestmark = pytest.mark.integration


@pytest.fixture
def project(testbed: TestBed, tmp_path: Path) -> Path:
    return testbed.project(["queue", "mail"], tmp_path / "app")


def test_command_exit_status_and_streams(cli: CliRunner, project: Path) -> None:
    result = cli(
        "ssh",
        "-e",
        "test",
        "--worker",
        "queue",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
        cwd=project,
    )
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_arguments_are_quoted_end_to_end(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    args = ["a b", "it's", '"dq"', f"; touch {marker}", f"$(touch {marker})"]
    result = run_pshctl(
        "-e", "test", "ssh", "--worker", "queue", "--", "printf", "<%s>\\n", *args, cwd=project
    )
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [f"<{a}>" for a in args]
    assert not marker.exists()


def test_stdin_goes_to_the_command(project: Path) -> None:
    script = "wc -l; exit 3"
    result = run_pshctl(
        "-e", "test", "ssh", "--worker", "queue", "--", "sh", "-c", script,
        cwd=project, input="one\ntwo\n",
    )
    assert (result.exit_code, result.stdout.strip()) == (3, "2"), result


def test_selection_options_after_the_command(cli: CliRunner, project: Path) -> None:
    result = cli("ssh", "--worker", "queue", "-e", "test", "--", "echo", "ok", cwd=project)
    assert (result.exit_code, result.stdout) == (0, "ok\n")


def test_pipe_prints_the_destination(cli: CliRunner, project: Path, testbed: TestBed) -> None:
    result = cli("ssh", "-e", "test", "--worker", "queue", "--pipe", cwd=project)
    expected = f"ssh://{testbed.user}@{testbed.host}:{testbed.port}\n"
    assert (result.exit_code, result.stdout) == (0, expected)


def test_all_prefixes_every_line_with_the_worker(cli: CliRunner, project: Path) -> None:
    script = 'echo "one $0"; echo "two $0" >&2'
    result = cli("ssh", "-e", "test", "--all", "--", "sh", "-c", script, "x y", cwd=project)
    assert result.exit_code == 0, result
    assert sorted(result.stdout.splitlines()) == ["mail  | one x y", "queue | one x y"]
    assert "mail  | two x y" in result.stderr and "queue | two x y" in result.stderr
    assert "exited 0 on all 2 worker(s)" in result.stderr


def test_all_is_non_zero_when_one_worker_fails(
    cli: CliRunner, testbed: TestBed, tmp_path: Path
) -> None:
    root = testbed.project(
        ["queue", "mail", "dead"], tmp_path / "app", overrides={"dead": {"port": 1}}
    )
    result = cli("ssh", "-e", "test", "--all", "--", "sh", "-c", "echo hi; exit 3", cwd=root)
    assert result.exit_code == 1
    assert sorted(result.stdout.splitlines()) == ["mail  | hi", "queue | hi"]
    assert "failed on 3 of 3 worker(s)" in result.stderr
    assert "queue (exited with status 3)" in result.stderr
    assert "dead (connection refused" in result.stderr

    ok = cli("ssh", "-e", "test", "--all", "--", "true", cwd=testbed.project(["queue"]))
    assert ok.exit_code == 0 and "all 1 worker(s)" in ok.stderr
    nowhere = testbed.project(["dead"], tmp_path / "dead", overrides={"dead": {"port": 1}})
    unreachable = cli("ssh", "-e", "test", "--all", "--", "true", cwd=nowhere)
    assert unreachable.exit_code == 4, unreachable  # nothing was reached


def test_all_runs_at_most_max_parallel_at_once(
    cli: CliRunner, testbed: TestBed, tmp_path: Path
) -> None:
    names = [f"w{i}" for i in range(4)]
    root = testbed.project(names, tmp_path / "app")
    log = tmp_path / "log"
    # Each worker notes when it begins and ends: with one at a time, they never overlap.
    script = f'echo "begin $0" >> {log}; sleep 0.2; echo "end $0" >> {log}'
    result = cli("ssh", "-e", "test", "--all", "--max-parallel", "1", "--", "sh", "-c", script,
                 "x", cwd=root)
    assert result.exit_code == 0, result
    assert log.read_text().split("\n")[:-1] == ["begin x", "end x"] * 4


def test_ctrl_c_during_all_ends_the_remote_commands_and_exits_130(
    testbed: TestBed, tmp_path: Path
) -> None:
    import os
    import signal

    from tests.helpers import wait_until

    root = testbed.project(["queue", "mail"], tmp_path / "app")
    marks = tmp_path / "marks"
    marks.mkdir()
    # Prints its pid, then writes forever (as `tail -f` on a busy log would).
    loop = f'echo $$ > {marks}/$$; while :; do echo tick; sleep 0.1; done'
    proc = subprocess.Popen(
        [sys.executable, "-m", "pshctl", "-e", "test", "ssh", "--all", "--", "sh", "-c", loop],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(list(marks.iterdir())) == 2, "the remote loops to start")
        pids = [int(p.read_text()) for p in marks.iterdir()]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted" in err
    assert "queue | tick" in out and "mail  | tick" in out

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(lambda: all(gone(p) for p in pids), "the remote commands to end")


def test_all_needs_a_command(cli: CliRunner, project: Path) -> None:
    result = cli("ssh", "-e", "test", "--all", cwd=project)
    assert result.exit_code == 2 and "--all needs a command" in result.stderr


def test_connection_failures_exit_255(cli: CliRunner, testbed: TestBed, tmp_path: Path) -> None:
    from pshctl.sandbox.servers import generate_key

    wrong = generate_key(tmp_path / "id_wrong")
    root = testbed.project(
        ["queue", "dead"],
        tmp_path / "app",
        overrides={"queue": {"identity_file": str(wrong)}, "dead": {"port": 1}},
    )
    result = cli("ssh", "-e", "test", "--worker", "queue", "--", "true", cwd=root)
    assert result.exit_code == 255
    assert "error: authentication failed" in result.stderr and str(wrong) in result.stderr
    result = cli("ssh", "-e", "test", "--worker", "dead", "--", "true", cwd=root)
    assert result.exit_code == 255 and "connection refused" in result.stderr


def test_unknown_host_refused_then_accepted(
    cli: CliRunner, testbed: TestBed, tmp_path: Path
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    root = testbed.project(
        ["queue"], tmp_path / "app", overrides={"queue": {"known_hosts": str(empty)}}
    )
    refused = cli("ssh", "-e", "test", "--worker", "queue", "--", "true", cwd=root)
    assert refused.exit_code == 255
    assert "unknown host key" in refused.stderr and "--accept-new" in refused.stderr
    accepted = cli(
        "ssh", "-e", "test", "--worker", "queue", "--accept-new", "--", "echo", "hi", cwd=root
    )
    assert (accepted.exit_code, accepted.stdout) == (0, "hi\n")
    assert f"[{testbed.host}]:{testbed.port}" in pshctl_known_hosts().read_text()
    again = cli("ssh", "-e", "test", "--worker", "queue", "--", "true", cwd=root)
    assert again.exit_code == 0


def test_verbose_shows_a_debug_trail(project: Path) -> None:
    result = run_pshctl("-v", "-e", "test", "ssh", "--worker", "queue", "--", "true", cwd=project)
    assert result.exit_code == 0
    assert "debug: connecting to" in result.stderr and "authenticated as" in result.stderr
    quiet = run_pshctl("-e", "test", "ssh", "--worker", "queue", "--", "true", cwd=project)
    assert quiet.stderr == ""


def _encrypted_key(path: Path, passphrase: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def test_passphrase_set_checks_then_stores_and_delete_removes(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pshctl.ssh import secrets

    key = _encrypted_key(tmp_path / "id_locked", "s3cret phrase")
    monkeypatch.setattr(sys, "stdin", io.StringIO("wrong\n"))
    bad = cli("auth", "passphrase", "set", str(key))
    assert bad.exit_code == 3 and "does not unlock" in bad.stderr
    assert "wrong" not in bad.stderr and secrets.get_stored(key) is None

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret phrase\n"))
    good = cli("auth", "passphrase", "set", str(key))
    assert good.exit_code == 0, good
    assert "s3cret" not in good.stdout + good.stderr
    assert secrets.get_stored(key) == "s3cret phrase"

    gone = cli("auth", "passphrase", "delete", str(key))
    assert gone.exit_code == 0 and "deleted" in gone.stderr
    assert secrets.get_stored(key) is None
    again = cli("auth", "passphrase", "delete", str(key))
    assert again.exit_code == 0 and "no passphrase was stored" in again.stderr


def test_passphrase_set_refuses_an_unencrypted_key(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pshctl.sandbox.servers import generate_key

    key = generate_key(tmp_path / "id_plain")
    stdin = io.StringIO("anything\n")
    monkeypatch.setattr(sys, "stdin", stdin)
    result = cli("auth", "passphrase", "set", str(key))
    assert result.exit_code == 3 and "not encrypted" in result.stderr
    assert stdin.read() == "anything\n"  # refused before asking for a passphrase


def test_no_heavy_imports_for_the_ssh_and_auth_commands() -> None:
    code = (
        "import sys, pshctl.cli, pshctl.cli.ssh, pshctl.cli.auth, pshctl.ssh; "
        "heavy = {'paramiko', 'fabric', 'invoke', 'keyring'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_paramiko_imports_without_importlib_metadata_and_keeps_its_version() -> None:
    code = (
        "import sys, pshctl.ssh, paramiko; "
        "seen = 'importlib.metadata' in sys.modules; "
        "from importlib import metadata; "
        "print(seen, paramiko.__version__ == metadata.version('paramiko'), "
        "paramiko.metadata.version('typer') == metadata.version('typer'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"]


def test_the_version_is_read_from_the_one_dist_info_folder(tmp_path: Path) -> None:
    from pshctl.ssh._noinvoke import dist_version

    origin = tmp_path / "paramiko" / "__init__.py"
    origin.parent.mkdir()
    assert dist_version(str(origin)) is None  # no folder: importlib.metadata answers
    (tmp_path / "paramiko-5.1.0.dist-info").mkdir()
    (tmp_path / "paramiko_expect-1.0.dist-info").mkdir()
    assert dist_version(str(origin)) == "5.1.0"
    (tmp_path / "paramiko-4.0.0.dist-info").mkdir()
    assert dist_version(str(origin)) is None  # two: ambiguous
    assert dist_version(None) is None
