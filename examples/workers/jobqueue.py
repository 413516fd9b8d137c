"""A job queue kept in a directory, safe for several processes without a lock.

Layout under the queue directory (a writable mount):
    incoming/<id>.json    waiting; a producer writes it under a temporary name and
                          renames it in, so a consumer never sees half a file
    working/<id>.json     taken by a worker (rename is atomic: one taker wins)
    done/<id>.json        finished, with the result added
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

STATES = ("incoming", "working", "done")


def queue_dir() -> Path:
    """The queue directory: $JOBS_DIR, relative to the app directory."""
    base = Path(os.environ.get("PLATFORM_APP_DIR", "."))
    path = base / os.environ.get("JOBS_DIR", "var/jobs")
    for state in STATES:
        (path / state).mkdir(parents=True, exist_ok=True)
    return path


def enqueue(kind: str, payload: dict | None = None) -> str:
    root = queue_dir()
    now = time.time()  # ids sort in queueing order, to the millisecond
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    job_id = f"{stamp}.{int(now * 1000) % 1000:03d}-{uuid.uuid4().hex[:4]}"
    body = {"id": job_id, "kind": kind, "payload": payload or {}, "queued_at": time.time()}
    tmp = root / "incoming" / f".{job_id}.tmp"
    tmp.write_text(json.dumps(body))
    tmp.rename(root / "incoming" / f"{job_id}.json")
    return job_id


def take() -> tuple[Path, dict] | None:
    """Claim the oldest waiting job, or None when there is none."""
    root = queue_dir()
    for path in sorted((root / "incoming").glob("*.json")):
        claimed = root / "working" / path.name
        try:
            path.rename(claimed)
        except FileNotFoundError:  # another worker took it first
            continue
        return claimed, json.loads(claimed.read_text())
    return None


def finish(claimed: Path, job: dict, result: str) -> None:
    job = {**job, "result": result, "done_at": time.time()}
    claimed.write_text(json.dumps(job))
    claimed.rename(queue_dir() / "done" / claimed.name)


def requeue_abandoned() -> list[str]:
    """Jobs left in working/ by a worker that was killed go back to incoming/."""
    root = queue_dir()
    moved = []
    for path in sorted((root / "working").glob("*.json")):
        path.rename(root / "incoming" / path.name)
        moved.append(path.stem)
    return moved


def counts() -> dict[str, int]:
    root = queue_dir()
    return {state: len(list((root / state).glob("*.json"))) for state in STATES}
