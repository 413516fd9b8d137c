"""The app container's SSH URL asked of the Platform.sh / Upsun CLI (``ssh --pipe``).

The last resort: it costs an API call and the CLI's own start-up per run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from pshctl.errors import ConfigError
from pshctl.targets.model import needs_app_url, targets_from_app_url

if TYPE_CHECKING:
    from pshctl.targets.model import Request, Target

PLATFORM_CLIS = ("platform", "upsun")  # tried in this order
PLATFORM_CLI_TIMEOUT = 30.0


def resolve(request: Request) -> list[Target] | None:
    """Ask the CLI for the app container's URL, when it is installed and a project known."""
    context = request.context
    cli = platform_cli()
    if cli is None or not context.project:
        return None
    url = ""
    if needs_app_url(request):
        url = ask_platform_cli(cli, context.project, context.environment, context.app.name)
    return targets_from_app_url(request, url, "cli")


def platform_cli() -> str | None:
    """The Platform.sh (or Upsun) CLI on PATH, if any."""
    for name in PLATFORM_CLIS:
        path = shutil.which(name)
        if path:
            return path
    return None


def ask_platform_cli(cli: str, project: str, environment: str, app: str) -> str:
    """``platform ssh --pipe``: the app container's SSH URL, without its trailing newline."""
    argv = [cli, "ssh", "--pipe", "-p", project, "-e", environment, "-A", app]
    env = {**os.environ, "PLATFORMSH_CLI_NO_INTERACTION": "1", "UPSUN_CLI_NO_INTERACTION": "1"}
    name = os.path.basename(cli)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                              stdin=subprocess.DEVNULL, timeout=PLATFORM_CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"`{name} ssh --pipe` did not answer within "
                          f"{PLATFORM_CLI_TIMEOUT:g}s") from None
    except OSError as exc:
        raise ConfigError(f"cannot run {name}: {exc.strerror or exc}") from None
    url = done.stdout.strip().splitlines()[-1].strip() if done.stdout.strip() else ""
    if done.returncode != 0 or "@" not in url:
        detail = (done.stderr.strip().splitlines() or ["no SSH URL printed"])[-1]
        raise ConfigError(
            f"`{name} ssh --pipe -e {environment}` failed: {detail}",
            hint=f"check `{name} login`, or set ssh_url for '{environment}' in .pshctl.yaml",
        )
    return url
