"""The local sandbox: an app's web container and workers run on this machine, over SSH.

- ``manager``: ``up`` / ``down`` / ``status`` / ``list_sandboxes`` (the library API)
- ``build``: what one container gets (code copy, mounts, environment, runit, login)
- ``layout``: where a sandbox keeps its files
- ``state``: what a running sandbox recorded (PIDs with start times), stale detection
- ``results``: what the commands report
- ``registry``: the ``sandbox`` environment entry that ``-e sandbox`` reads
- ``servers``: sshd and runsvdir processes (shared with the test bed)

Nothing is imported here, so that ``pshctl.sandbox.registry`` stays cheap to import.
"""
