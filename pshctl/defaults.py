"""Default values that the domain and the command-line options share.

This module imports nothing: the CLI declares its options with these values, and every
Tab press imports the CLI.
"""

from __future__ import annotations

# Platform.sh's delay from SIGTERM to SIGKILL when it stops a worker.
DEFAULT_GRACE = 15
# How long a started worker must stay up (the same process) to count as started.
DEFAULT_VERIFY = 3.0
DEFAULT_WAIT_TIMEOUT = 60.0
# Workers handled at once. What a stock sshd limits (MaxStartups 10:30:100) is connections
# not yet authenticated, and pshctl.ssh caps those at 8 itself, so this bounds threads
# and load, not sshd's limit: 32 keeps a restart of dozens of workers one wave wide.
DEFAULT_MAX_PARALLEL = 32
# `top` and `status --wide`: seconds between the two looks at /proc that CPU % is taken over.
DEFAULT_USAGE_SAMPLE = 0.5
DEFAULT_LOG_LINES = 100
DEFAULT_LOG_TYPE = "app"
# The logs a Platform.sh / Upsun container keeps in /var/log (<type>.log), as the
# platform's docs list them; Tab offers these for `logs --type`.
LOG_TYPES = ("app", "access", "error", "cron", "deploy", "post-deploy", "php.access", "dns",
             "syslog")
# The environment name under which `pshctl sandbox up` registers a project's sandbox.
SANDBOX_ENVIRONMENT = "sandbox"
