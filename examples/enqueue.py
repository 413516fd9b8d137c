"""Queue jobs for the queue worker from a shell in any container with the jobs mount:

    python3 enqueue.py thumbnail invoice invoice
"""

from __future__ import annotations

import sys

from workers import jobqueue

if __name__ == "__main__":
    kinds = sys.argv[1:] or ["report"]
    for kind in kinds:
        print(f"queued {jobqueue.enqueue(kind)} ({kind})")
