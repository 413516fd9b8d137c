"""The README contract: `make demo`'s script runs end to end on the sandbox, over SSH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

DEMO = REPO / "scripts" / "demo"
PSHCTL = Path(sys.executable).with_name("pshctl")


@pytest.mark.integration
def test_demo_runs_the_main_job_and_says_how_to_stop(tmp_path: Path) -> None:
    if not PSHCTL.exists():
        pytest.skip("the demo drives the venv's pshctl; run through `make test`")
    env = {**os.environ, "PSHCTL_STATE_DIR": str(tmp_path / "state")}
    try:
        proc = subprocess.run(
            [str(DEMO)], env=env, capture_output=True, text=True, timeout=240, check=False
        )
    finally:
        subprocess.run(
            [str(PSHCTL), "sandbox", "down", str(REPO / "examples")],
            env=env, capture_output=True, timeout=120, check=False,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    # status over SSH lists both workers up; the restart of mail was verified
    rows = [line.split()[:2] for line in out.splitlines()]
    assert ["queue", "up"] in rows and ["mail", "up"] in rows
    restart = next(line for line in out.splitlines() if line.startswith("mail ") and " ok " in line)
    assert "exited" in restart
    # queue's log, read over SSH, shows jobs the demo queued from the web container
    assert "job" in out and "done" in out
    assert "sandbox down" in out
