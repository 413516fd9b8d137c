"""The mail worker: a small loop that would send the queued e-mails.

It has no writable mount (``mounts: {}``), so it keeps nothing on disk; it only logs
what it would send. SIGTERM stops it at once: there is nothing to finish.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

log = logging.getLogger("mail")
stop = threading.Event()


def main() -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s",
    )
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interval = float(os.environ.get("MAIL_INTERVAL", "10"))
    log.info("started (role %s), checking the outbox every %.0f s",
             os.environ.get("APP_ROLE"), interval)
    rounds = 0
    while not stop.wait(interval):
        rounds += 1
        log.info("outbox check %d: nothing to send", rounds)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
