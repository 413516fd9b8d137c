"""Interrupts during commands that must finish what they began (restart, ``ssh --all``).

Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal, a dropped bastion session) mean
the same: the first one asks the work to wind down safely, a later one aborts at once.
Elsewhere :func:`pshctl.cli.run` turns them into exit 130 with clean-up.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


@contextmanager
def two_step(first: Callable[[], None], again: Callable[[], None]) -> Iterator[None]:
    """While inside, the first interrupt calls ``first()``, every later one ``again()``.

    Outside the main thread (where Python delivers no signals) it does nothing.
    """
    count = 0

    def handler(signum: int, frame: object) -> None:
        nonlocal count
        count += 1
        (first if count == 1 else again)()

    with _handling(SIGNALS, handler):
        yield


@contextmanager
def as_keyboard_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP mean what Ctrl-C means: KeyboardInterrupt (exit 130, clean-up
    runs); commands that must finish what they started install :func:`two_step` on top."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with _handling([sig for sig in SIGNALS if sig != signal.SIGINT], interrupt):
        yield


@contextmanager
def _handling(signals: Sequence[int], handler: Callable[[int, object], None]) -> Iterator[None]:
    """``handler`` for ``signals`` while inside, in the main thread; the old ones after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
