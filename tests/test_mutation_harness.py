"""tools/mutation.py, the mutation harness: its bookkeeping (mutmut itself is not run)."""

from __future__ import annotations

from pathlib import Path

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
