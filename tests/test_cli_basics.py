"""The CLI contract: --version, --help, exit codes, no tracebacks, -p/-e/-A anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from pshctl import __version__
from pshctl.cli import app as pshctl_app
from pshctl.cli import options
from pshctl.errors import ExitCode
from tests.helpers import CliRunner, run_pshctl


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\nworkers:\n  queue: {commands: {start: run}}\n"
    )
    return tmp_path


def test_version(cli: CliRunner) -> None:
    result = cli("--version")
    assert (result.exit_code, result.stdout) == (0, f"pshctl {__version__}\n")


def test_help_lists_every_command_with_its_help(cli: CliRunner) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    group = typer.main.get_command(pshctl_app)
    ctx = typer.Context(group)
    names = group.list_commands(ctx)  # type: ignore[attr-defined]
    assert "workers" in names
    for name in names:
        command = group.get_command(ctx, name)  # type: ignore[attr-defined]
        if command.hidden:
            continue
        assert name in result.stdout
        assert command.get_short_help_str(limit=40)[:20] in result.stdout


@pytest.mark.parametrize("args", [(), ("sandbox",), ("auth", "passphrase")])
def test_a_group_alone_shows_its_help_and_succeeds(cli: CliRunner, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 0, result
    assert f"Usage: pshctl {' '.join(args)}".rstrip() in result.stdout
    assert result.stderr == ""


def test_unknown_option_is_a_usage_error(cli: CliRunner, project: Path) -> None:
    result = cli("workers", "--bogus", cwd=project)
    assert result.exit_code == ExitCode.USAGE
    assert "--bogus" in result.stderr
    assert result.stdout == ""


def test_unknown_command_is_a_usage_error(cli: CliRunner) -> None:
    assert cli("wrokers").exit_code == ExitCode.USAGE


def test_name_error_exit_code(cli: CliRunner, project: Path) -> None:
    assert cli("workers", "show", "nope", cwd=project).exit_code == ExitCode.CONFIG


def test_user_errors_never_show_a_traceback(tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text("name: app\nworkers:\n  q: {commands: [\n")
    result = run_pshctl("workers", cwd=tmp_path)
    assert result.exit_code == ExitCode.CONFIG
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: .platform.app.yaml:")
    assert result.stdout == ""


def test_missing_project_from_a_subprocess(tmp_path: Path) -> None:
    result = run_pshctl("workers", "show", "q", cwd=tmp_path)
    assert result.exit_code == ExitCode.CONFIG
    assert "Traceback" not in result.stderr


# --- -p/-e/-A before and after the command --------------------------------------------


@pytest.fixture
def probe() -> Iterator[None]:
    """A throw-away command that prints the merged selection, as every command builds it."""

    def _probe(
        ctx: typer.Context,
        project: options.ProjectOpt = None,
        environment: options.EnvironmentOpt = None,
        app_name: options.AppOpt = None,
    ) -> None:
        chosen = options.selection(ctx, project, environment, app_name)
        typer.echo(f"{chosen.project} {chosen.environment} {chosen.app}")

    pshctl_app.command("_probe", hidden=True)(_probe)
    try:
        yield
    finally:
        pshctl_app.registered_commands.pop()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-e", "main", "_probe"], "None main None"),
        (["_probe", "-e", "main"], "None main None"),
        (["--environment", "main", "_probe", "--environment", "dev"], "None dev None"),
        (["-p", "abc", "-A", "web", "_probe", "-e", "main"], "abc main web"),
        (["_probe", "-p", "abc", "-e", "main", "-A", "web"], "abc main web"),
    ],
)
def test_selection_before_and_after_the_command(
    cli: CliRunner, probe: None, argv: list[str], expected: str
) -> None:
    result = cli(*argv)
    assert (result.exit_code, result.stdout.strip()) == (0, expected)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_exit_130_like_ctrl_c_without_traceback(signame: str) -> None:
    """SIGTERM or SIGHUP to a running command goes through the one error boundary: 130."""
    import signal
    import subprocess
    import sys

    script = (
        "import time, sys\n"
        "import pshctl.cli as cli\n"
        "@cli.app.command('nap', hidden=True)\n"
        "def nap() -> None:\n"
        "    print('napping', flush=True)\n"
        "    time.sleep(30)\n"
        "sys.exit(cli.run(['nap']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "napping"  # inside the command: handlers are set
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert "interrupted" in err


def test_on_a_terminal_only_the_label_is_coloured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pshctl.cli import output

    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    output.console.cache_clear()
    try:
        output.error("it broke [red]", "do this")
    finally:
        output.console.cache_clear()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("\x1b[1;31merror: \x1b[0m")
    assert lines[0].endswith("\x1b[0mit broke [red]")  # the message itself is unstyled
    assert lines[1].endswith("\x1b[0mdo this")


def test_a_closed_pipe_keeps_the_exit_code_of_the_operation(tmp_path: Path) -> None:
    """`pshctl workers | head -1` style: the reader is gone; exit 0, no traceback."""
    import os
    import subprocess
    import sys

    app = tmp_path / "app"
    app.mkdir()
    workers = "".join(f"  w{i}:\n    commands:\n      start: run {i}\n" for i in range(2000))
    (app / ".platform.app.yaml").write_text(f"name: app\ntype: 'python:3.11'\nworkers:\n{workers}")
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: the first write fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pshctl", "workers"], cwd=app, stdout=write_end,
            stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
