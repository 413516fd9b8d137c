"""The test helpers themselves: the one poll-until, and the integration-marker guard."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from _pytest.outcomes import Failed

from tests.helpers import wait_until
from tests.testbed import TestBed


def test_wait_until_returns_the_first_true_answer() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "ready", "three polls", every=0) == "ready"


def test_wait_until_fails_saying_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the moon \(last seen: \[\]\)"):
        wait_until(lambda: [], "the moon", timeout=0.05, every=0.01)


def test_an_unmarked_test_cannot_start_a_server(tmp_path: Path) -> None:
    with pytest.raises(Failed, match=r"mark it @pytest\.mark\.integration"):
        TestBed.start(tmp_path / "bed")
