"""``pshctl cp SOURCE DESTINATION``: one file to or from a worker's container, over SFTP.

A progress bar (on stderr) for files of a megabyte or more, on a terminal only; piped
or with ``--json``, nothing but the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pshctl.cli import output
from pshctl.cli.options import (
    AcceptNewOpt,
    AppOpt,
    EnvironmentOpt,
    InstanceOpt,
    JsonOpt,
    ProjectOpt,
    located,
    open_environment,
)

if TYPE_CHECKING:
    from pshctl.transfer import CopyResult

EPILOG = (
    "Examples: pshctl cp dump.sql queue:/app/var/  |  pshctl cp queue:/app/var/report.csv .  "
    "|  pshctl cp app:/app/.env ./env.txt  |  pshctl cp ./a:b.txt queue:/tmp/ (a local name "
    "with a colon). A remote path is relative to the container's home directory (/app on "
    "Platform.sh); only its mounts and /tmp are writable there."
)
BAR_FROM = 1024 * 1024  # bytes: smaller files are done before a bar could help


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("cp", epilog=EPILOG)(cp_command)


def cp_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(
        metavar="SOURCE", help="A local file, or WORKER:PATH.", show_default=False)],
    destination: Annotated[str, typer.Argument(
        metavar="DESTINATION", help="WORKER:PATH, or a local path (a directory keeps the "
        "file's name).", show_default=False)],
    instance: InstanceOpt = None,
    as_json: JsonOpt = False,
    accept_new: AcceptNewOpt = False,
    project: ProjectOpt = None,
    environment: EnvironmentOpt = None,
    app: AppOpt = None,
) -> int:
    """Copy a file to or from a worker's container (SFTP, same keys and host checks as ssh).

    WORKER is a worker's name, or the app's name for its web container; of a scaled
    worker, name one instance: WORKER.N (or -I N). The file is
    written under a temporary name and renamed into place: an interrupted copy leaves
    nothing half-written. Exit 1 when the copy is refused (e.g. a read-only path).
    """
    env = open_environment(ctx, project, environment, app, announce=not as_json,
                           accept_new=accept_new)
    with _Bar(enabled=not as_json) as bar:
        result = env.copy(source, destination, progress=bar, instance=instance)
    return output.emit(located(_report(result), env), as_json=as_json)


def _report(result: CopyResult) -> output.Report:
    from pshctl.cli.top import human_bytes

    speed = result.size_bytes / result.elapsed_s if result.elapsed_s > 0 else 0
    line = (f"copied {result.source} -> {result.destination} "
            f"({human_bytes(result.size_bytes)} in {result.elapsed_s:.1f}s, "
            f"{human_bytes(int(speed))}/s)")
    return output.Report({"copy": result.to_dict()}, lines=[line])


class _Bar:
    """rich's progress bar on stderr, shown once a big file starts moving on a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and output.is_terminal(stderr=True)
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < BAR_FROM:
            return
        if self.progress is None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(BarColumn(), DownloadColumn(binary_units=True),
                                     TransferSpeedColumn(), TimeRemainingColumn(),
                                     console=output.console(stderr=True))
            self.progress.start()
            self.task = self.progress.add_task("copy", total=total)
        self.progress.update(self.task, completed=done)
