"""Mutation testing of the pure core: do the unit tests catch a wrong line?

    make mutation                                  # every module below
    python -m tools.mutation pshctl/outcome.py     # one module (or a few)
    python -m tools.mutation pshctl/settings.py --only 'pshctl.settings.x_parse_text__*'

Each module is mutated by mutmut (one small change at a time: ``<`` for ``<=``, ``None``
for a value, a dropped argument, ...) and its unit tests are run against each mutant.
A mutant the tests fail on is killed; one they pass on survived: either the tests miss
something (add a test) or the change cannot be seen from outside (an equivalent mutant:
list it, with why, in the table of docs/testing.md). The run fails when the score is
below ``THRESHOLD`` or a survivor is neither killed nor listed.

Not part of ``make test`` nor of CI: it takes minutes. It works on a copy of the
repository under ``build/mutation``, so the checkout is never touched.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
EQUIVALENTS_DOC = ROOT / "docs" / "testing.md"
# Survivors seen but not yet reviewed (neither killed nor shown equivalent): the debt,
# one mutant name a line. A survivor not listed here nor in docs/testing.md fails the run.
PENDING = ROOT / "tools" / "mutation-pending.txt"
THRESHOLD = 0.80

# The module to mutate -> the unit tests that must catch its mutants. One line a module.
MODULES: dict[str, tuple[str, ...]] = {
    "pshctl/outcome.py": ("tests/test_outcome.py", "tests/test_instances.py"),
    "pshctl/parallel.py": ("tests/test_outcome.py",),
    "pshctl/logs/protocol.py": ("tests/test_logs_protocol.py", "tests/test_logs_filters.py",
                                "tests/test_properties_follow.py", "tests/test_logs_stream.py"),
    "pshctl/supervisor/runit.py": ("tests/test_supervisor_runit.py",),
    "pshctl/supervisor/systemd.py": ("tests/test_supervisor_systemd.py",
                                     "tests/test_supervisor_systemd_parse.py"),
    "pshctl/supervisor/auto.py": ("tests/test_supervisor_auto.py",),
    "pshctl/appdef/parse.py": ("tests/test_appdef.py", "tests/test_appdef_products.py",
                               "tests/test_appdef_hostile.py", "tests/test_appdef_parse.py",
                               "tests/test_appdef_include.py"),
    "pshctl/appdef/upsun.py": ("tests/test_appdef.py", "tests/test_appdef_products.py",
                               "tests/test_appdef_parse.py", "tests/test_appdef_loaders.py"),
    "pshctl/appdef/platformsh.py": ("tests/test_appdef.py", "tests/test_appdef_products.py",
                                    "tests/test_appdef_parse.py",
                                    "tests/test_appdef_loaders.py"),
    "pshctl/appdef/layout.py": ("tests/test_appdef_products.py", "tests/test_appdef.py",
                                "tests/test_appdef_layout.py"),
    "pshctl/appdef/includes.py": ("tests/test_appdef_include.py", "tests/test_appdef_hostile.py"),
    "pshctl/settings.py": ("tests/test_settings.py", "tests/test_instances.py",
                            "tests/test_settings_checks.py"),
    "pshctl/context.py": ("tests/test_context.py",),
    "pshctl/targets/configured.py": ("tests/test_targets.py", "tests/test_instances.py",
                                     "tests/test_targets_sources.py"),
}

# What mutmut's `results --all true` says of a mutant, and how it counts here.
DETECTED = {"killed", "timeout", "caught by type check"}
UNDETECTED = {"survived", "no tests"}


@dataclass(frozen=True)
class Mutant:
    name: str  # e.g. pshctl.outcome.x_exit_code__mutmut_3
    status: str

    @property
    def module(self) -> str:
        """The dotted module the mutant is in (``pshctl.outcome``)."""
        return self.name.split(".x", 1)[0] if ".x" in self.name else self.name


def equivalents(doc: Path = EQUIVALENTS_DOC) -> dict[str, str]:
    """Mutant name -> why it is equivalent, from the table rows of docs/testing.md."""
    found = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        row = re.match(r"^\|\s*`([^`]+__mutmut_\d+)`\s*\|\s*(.*?)\s*\|\s*$", line)
        if row:
            found[row.group(1)] = row.group(2)
    return found


def pending(path: Path = PENDING) -> set[str]:
    """The survivors not yet reviewed, from ``path`` (``#`` comments allowed)."""
    return set(_pending_notes(path))


def _pending_notes(path: Path) -> dict[str, str]:
    """Pending survivor -> its note (the ``# ...`` after its name, or ``""``)."""
    if not path.exists():
        return {}
    notes = {}
    for line in path.read_text("utf-8").splitlines():
        name, _, note = line.partition("#")
        if name.strip():
            notes[name.strip()] = note.strip()
    return notes


def selected(name: str, only: tuple[str, ...]) -> bool:
    """Whether mutant ``name`` is among the ``--only`` patterns (all of them when none)."""
    return not only or any(fnmatch.fnmatchcase(name, pattern) for pattern in only)


def write_pending(names: set[str], modules: list[str], path: Path = PENDING,
                  only: tuple[str, ...] = ()) -> None:
    """Replace the pending survivors of ``modules`` (and ``only``) with ``names``.

    The others' are kept, and a survivor still pending keeps its note.
    """
    dotted = tuple(m.removesuffix(".py").replace("/", ".") + "." for m in modules)
    notes = _pending_notes(path)
    run = {n for n in notes if n.startswith(dotted) and selected(n, only)}
    kept = (set(notes) - run) | names
    header = ("# Mutation survivors not yet reviewed (python -m tools.mutation --update-pending)."
              "\n# Each one is to be killed by a test or listed as equivalent in docs/testing.md."
              "\n")
    lines = (f"{n}  # {notes[n]}" if notes.get(n) else n for n in sorted(kept))
    path.write_text(header + "".join(f"{line}\n" for line in lines), "utf-8")


def parse_results(text: str) -> list[Mutant]:
    """The mutants in ``mutmut results --all true`` output (``name: status`` lines)."""
    mutants = []
    for line in text.splitlines():
        match = re.match(r"^\s*(\S+__mutmut_\d+): (.+?)\s*$", line)
        if match:
            mutants.append(Mutant(match.group(1), match.group(2)))
    return mutants


def score(mutants: list[Mutant], equivalent: set[str]) -> tuple[float, list[Mutant]]:
    """Killed among the mutants that can be killed, and the survivors left unexplained."""
    counted = [m for m in mutants if m.name not in equivalent and m.status != "skipped"]
    killed = sum(m.status in DETECTED for m in counted)
    unexplained = [m for m in counted if m.status not in DETECTED]
    return (killed / len(counted) if counted else 1.0), unexplained


def prepare(modules: list[str]) -> Path:
    """A copy of the repository with a mutmut configuration for ``modules``."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("pshctl", "tests", "tools"):
        shutil.copytree(ROOT / part, WORK / part, ignore=ignore)
    tests = sorted({t for m in modules for t in MODULES[m]})
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8") + (
        "\n[tool.mutmut]\n"
        'source_paths = ["pshctl"]\n'
        f"only_mutate = {modules!r}\n"
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
        'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-x", "-m", "not integration"]\n'
    ).replace("'", '"')
    (WORK / "pyproject.toml").write_text(config, encoding="utf-8")
    return WORK


def mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=WORK,
                          capture_output=True, text=True, check=False)


def report(mutants: list[Mutant], explained: dict[str, str], debt: set[str]) -> int:
    rate, unexplained = score(mutants, set(explained))
    by_module: dict[str, Counter[str]] = {}
    for m in mutants:
        by_module.setdefault(m.module, Counter())[m.status] += 1
    for module, counts in sorted(by_module.items()):
        print(f"{module}: " + ", ".join(f"{n} {status}" for status, n in counts.most_common()))
    listed = sum(m.name in explained for m in mutants)
    print(f"score: {rate:.0%} killed of {len(mutants) - listed} mutants "
          f"({listed} listed as equivalent in docs/testing.md); threshold {THRESHOLD:.0%}")
    new = [m for m in unexplained if m.name not in debt]
    known = len(unexplained) - len(new)
    if known:
        print(f"{known} survivor(s) pending review ({PENDING.relative_to(ROOT)})")
    for m in new:
        print(f"\n{m.status}: {m.name}")
        print(mutmut("show", m.name).stdout.rstrip())
    if new:
        print(f"\n{len(new)} new survivor(s): kill each with a test, or list it as "
              f"equivalent (with why) in {EQUIVALENTS_DOC.relative_to(ROOT)}")
    return 0 if rate >= THRESHOLD and not new else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"modules to mutate (default: all of them): {', '.join(MODULES)}")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run only the mutants whose names match PATTERN (fnmatch, e.g. "
                             "'pshctl.settings.x_parse_text__mutmut_*'); repeatable")
    parser.add_argument("--update-pending", action="store_true",
                        help=f"record this run's unexplained survivors in {PENDING.name}")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"not in tools/mutation.py's MODULES: {', '.join(unknown)}")
    modules = args.modules or list(MODULES)
    only = tuple(args.only)
    prepare(modules)
    run = mutmut("run", *only)
    if run.returncode != 0:
        print(run.stdout[-3000:] + run.stderr[-3000:], file=sys.stderr)
        return 2
    mutants = [m for m in parse_results(mutmut("results", "--all", "true").stdout)
               if selected(m.name, only)]
    explained = equivalents()
    if args.update_pending:
        _, unexplained = score(mutants, set(explained))
        write_pending({m.name for m in unexplained}, modules, only=only)
    return report(mutants, explained, pending())


if __name__ == "__main__":
    sys.exit(main())
