"""tools/mutation.py, the mutation harness: its bookkeeping (mutmut itself is not run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools import mutation
from tools.mutation import Mutant, equivalents, parse_results, score


def test_results_are_read_from_mutmuts_listing() -> None:
    text = ("    pshctl.outcome.x_exit_code__mutmut_1: killed\n"
            "    pshctl.outcome.xǁResultsǁok__mutmut_2: survived\n"
            "    pshctl.logs.protocol.x_decode__mutmut_6: no tests\n"
            "some other line\n")
    assert parse_results(text) == [
        Mutant("pshctl.outcome.x_exit_code__mutmut_1", "killed"),
        Mutant("pshctl.outcome.xǁResultsǁok__mutmut_2", "survived"),
        Mutant("pshctl.logs.protocol.x_decode__mutmut_6", "no tests"),
    ]
    assert parse_results(text)[1].module == "pshctl.outcome"


def test_the_score_leaves_out_equivalents_and_names_the_unexplained() -> None:
    mutants = [Mutant("m.x_a__mutmut_1", "killed"), Mutant("m.x_a__mutmut_2", "timeout"),
               Mutant("m.x_a__mutmut_3", "survived"), Mutant("m.x_a__mutmut_4", "no tests"),
               Mutant("m.x_a__mutmut_5", "skipped")]
    rate, unexplained = score(mutants, {"m.x_a__mutmut_3"})
    assert rate == 2 / 3
    assert [m.name for m in unexplained] == ["m.x_a__mutmut_4"]
    assert score([], set()) == (1.0, [])


def test_equivalents_come_from_the_table_of_docs_testing(tmp_path: Path) -> None:
    doc = tmp_path / "testing.md"
    doc.write_text("| mutant | why |\n| --- | --- |\n| `p.x_f__mutmut_3` | the same codec |\n"
                   "| `not a mutant` | ignored |\n")
    assert equivalents(doc) == {"p.x_f__mutmut_3": "the same codec"}
    listed = equivalents()  # the real table
    assert listed and all("__mutmut_" in name and why for name, why in listed.items())


def test_every_module_and_its_tests_exist() -> None:
    for module, tests in mutation.MODULES.items():
        assert (mutation.ROOT / module).is_file(), module
        assert tests and all((mutation.ROOT / t).is_file() for t in tests), tests


def test_pending_survivors_are_replaced_per_module(tmp_path: Path) -> None:
    path = tmp_path / "pending.txt"
    assert mutation.pending(path) == set()
    path.write_text("# reviewed later\npshctl.a.x_f__mutmut_1  # a note\n\n"
                    "pshctl.b.x_g__mutmut_2\n")
    assert mutation.pending(path) == {"pshctl.a.x_f__mutmut_1", "pshctl.b.x_g__mutmut_2"}
    mutation.write_pending({"pshctl.a.x_f__mutmut_9"}, ["pshctl/a.py"], path)
    # a's survivors are this run's; b's, not run, are kept.
    assert mutation.pending(path) == {"pshctl.a.x_f__mutmut_9", "pshctl.b.x_g__mutmut_2"}
    assert path.read_text().startswith("# Mutation survivors not yet reviewed")


def test_pending_notes_survive_and_only_the_selected_mutants_are_replaced(
        tmp_path: Path) -> None:
    path = tmp_path / "pending.txt"
    path.write_text("pshctl.a.x_f__mutmut_1  # a real flaw\npshctl.a.x_g__mutmut_2\n"
                    "pshctl.a.x_g__mutmut_3  # to check\n")
    # A run of a's g mutants only: f's entry is not touched; g_3 still survives.
    mutation.write_pending({"pshctl.a.x_g__mutmut_3"}, ["pshctl/a.py"], path,
                           only=("pshctl.a.x_g__*",))
    assert path.read_text().splitlines()[2:] == [
        "pshctl.a.x_f__mutmut_1  # a real flaw", "pshctl.a.x_g__mutmut_3  # to check"]
    assert mutation.selected("pshctl.a.x_g__mutmut_3", ("pshctl.a.x_g__*",))
    assert not mutation.selected("pshctl.a.x_f__mutmut_1", ("pshctl.a.x_g__*",))
    assert mutation.selected("anything", ())


def test_a_pending_survivor_does_not_fail_the_run_a_new_one_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(mutation, "mutmut", lambda *args: shown.append(args[-1]) or
                        subprocess.CompletedProcess(args, 0, "diff", ""))
    mutants = [Mutant(f"m.x_a__mutmut_{n}", "killed") for n in range(9)]
    mutants.append(Mutant("m.x_a__mutmut_9", "survived"))  # 90 % killed
    assert mutation.report(mutants, {}, {"m.x_a__mutmut_9"}) == 0
    assert shown == []  # a pending survivor is counted, not shown again
    assert mutation.report(mutants, {}, set()) == 1
    assert shown == ["m.x_a__mutmut_9"]
    # Below the threshold fails even when every survivor is pending.
    low = [Mutant("m.x_a__mutmut_1", "killed"), Mutant("m.x_a__mutmut_2", "survived")]
    assert mutation.report(low, {}, {"m.x_a__mutmut_2"}) == 1
