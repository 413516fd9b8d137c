"""The queue worker: takes jobs from the directory queue in its mount, one at a time.

On SIGTERM (how Platform.sh and runit ask a worker to stop) it finishes the job in
hand, then exits; it never starts a new job after the signal. The platform sends
SIGKILL 15 s after SIGTERM, so a job must take less than that; a job cut short by
SIGKILL stays in working/ and is put back in the queue at the next start.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

import jobqueue

log = logging.getLogger("queue")
stopping = False


def ask_to_stop(signum: int, _frame: object) -> None:
    global stopping
    stopping = True
    log.info("got %s: will stop after the job in hand", signal.Signals(signum).name)


def process(job: dict) -> str:
    seconds = float(os.environ.get("JOB_SECONDS", "3"))
    log.info("job %s (%s): started, takes %.0f s", job["id"], job["kind"], seconds)
    steps = 3
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)  # a signal does not cut a job short: we go on
        log.info("job %s: step %d/%d", job["id"], step, steps)
    return f"{job['kind']} processed by pid {os.getpid()}"


def main() -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s",
    )
    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    log.info("started in %s, queue %s", os.getcwd(), jobqueue.queue_dir())
    for job_id in jobqueue.requeue_abandoned():
        log.warning("job %s was left unfinished by an earlier run: queued again", job_id)
    idle_since = time.monotonic()
    while not stopping:
        taken = jobqueue.take()
        if taken is None:
            if time.monotonic() - idle_since > 30:
                log.info("idle: queue empty")
                idle_since = time.monotonic()
            time.sleep(0.5)
            continue
        claimed, job = taken
        result = process(job)
        jobqueue.finish(claimed, job, result)
        log.info("job %s: done", job["id"])
        idle_since = time.monotonic()
    log.info("stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
