"""pshctl: manage the background workers of Platform.sh-style applications over SSH.

The CLI is a thin layer over the library: a runbook can ``import pshctl`` and do what
the commands do (see ``pshctl.api``).
"""

from __future__ import annotations

__version__ = "0.1.0"
