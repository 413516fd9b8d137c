"""Generate the files that are derived from the CLI, or check that they are fresh.

A developer tool, kept out of the installed package (run from the repository root):

    python -m tools.devtools completions [--check]   # completions/: bash, zsh, fish
    python -m tools.devtools docs [--check]          # docs/commands.md

``make completions`` and ``make docs`` call this; ``tests/test_docs.py`` runs the checks,
so a change to a command's help or options fails the tests until the files are
regenerated. With ``--check`` nothing is written and the exit status is 1 when a file
is missing or differs (the stale files are listed on stderr).

The command reference is rendered from the click command tree that typer builds, so
it says exactly what ``--help`` says, without depending on the terminal's width.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typer import _click as click

ROOT = Path(__file__).resolve().parent.parent
COMPLETION_FILES = {
    "bash": Path("completions/pshctl.bash"),
    "zsh": Path("completions/_pshctl"),
    "fish": Path("completions/pshctl.fish"),
}
COMMANDS_DOC = Path("docs/commands.md")
GENERATED_NOTE = (
    "<!-- Generated from the CLI by `make docs` (python -m tools.devtools docs). "
    "Do not edit by hand: change the commands' help and regenerate. -->"
)


# --- completions -------------------------------------------------------------------------


def render_completions() -> dict[Path, str]:
    """Each checked-in completion script, as ``pshctl completion SHELL`` prints it."""
    from pshctl.cli import completion

    return {path: completion.script(shell) for shell, path in COMPLETION_FILES.items()}


# --- the command reference ------------------------------------------------------------


def render_commands_doc() -> str:
    """docs/commands.md: every command with its usage, help, arguments and options."""
    from typer import _click as click
    from typer.main import get_command

    from pshctl.cli import app

    root = get_command(app)
    ctx = click.Context(root, info_name="pshctl")
    commands = list(_walk(ctx))
    parts = [
        "# Command reference",
        "",
        GENERATED_NOTE,
        "",
        "Every command also takes `-h`/`--help`. The target options `-p`, `-e` and `-A` "
        "may be given before the command (`pshctl -e main restart mail`) or after it; "
        "exit statuses are listed in [exit-codes.md](exit-codes.md).",
        "",
        *(f"- [`{c.command_path}`](#{_anchor(c.command_path)})" for c in commands),
        "",
    ]
    for command_ctx in commands:
        parts.extend(_section(command_ctx))
    return "\n".join(parts).rstrip() + "\n"


def _walk(ctx: click.Context) -> Iterator[click.Context]:
    """The context of this command and of every visible subcommand, depth first."""
    yield ctx
    command: Any = ctx.command
    if not hasattr(command, "list_commands"):
        return
    from typer import _click as click

    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            yield from _walk(click.Context(sub, info_name=name, parent=ctx))


def _anchor(title: str) -> str:
    return title.lower().replace(" ", "-")


def _section(ctx: click.Context) -> list[str]:
    command: Any = ctx.command
    lines = [f"## `{ctx.command_path}`", ""]
    if command.help:
        lines += [_dedent(command.help), ""]
    lines += ["```text", _usage(ctx), "```", ""]
    lines += _table("Argument", _records(ctx, "argument"))
    lines += _table("Option", _records(ctx, "option"))
    subcommands = _subcommands(ctx)
    lines += _table("Command", subcommands)
    if command.epilog:  # free text, often shell examples: shown verbatim
        lines += ["```text", _dedent(command.epilog), "```", ""]
    return lines


def _usage(ctx: click.Context) -> str:
    command: Any = ctx.command
    pieces = [ctx.command_path]
    params = [p for p in command.params if not getattr(p, "hidden", False)]
    if any(p.param_type_name == "option" for p in params):
        pieces.append("[OPTIONS]")
    for param in params:
        if param.param_type_name == "argument":
            pieces.append(_argument_usage(param))
    if hasattr(command, "list_commands"):
        pieces.append("COMMAND [ARGS]..." if not command.invoke_without_command
                      else "[COMMAND [ARGS]...]")
    return " ".join(pieces)


def _argument_name(param: Any) -> str:
    """``NAME``, ``NAME...`` when it takes many values, or the metavar as written."""
    if param.metavar:
        return str(param.metavar)
    name = (param.name or "").upper()
    return name + "..." if param.nargs != 1 else name


def _argument_usage(param: Any) -> str:
    name = _argument_name(param)
    return name if param.required else f"[{name}]"


def _records(ctx: click.Context, kind: str) -> list[tuple[str, str]]:
    """(name, help) per parameter of ``kind``, as typer's own help shows them."""
    command: Any = ctx.command
    rows = []
    for param in command.params:
        if param.param_type_name != kind:
            continue
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        name, text = record
        if kind == "argument":  # the name as in the usage line; the type only for choices
            name = _argument_name(param)
            if getattr(param.type, "choices", None):
                name += " <" + "|".join(map(str, param.type.choices)) + ">"
        rows.append((name, text))
    return rows


def _subcommands(ctx: click.Context) -> list[tuple[str, str]]:
    command: Any = ctx.command
    if not hasattr(command, "list_commands"):
        return []
    rows = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            path = f"{ctx.command_path} {name}"
            rows.append((f"[{name}](#{_anchor(path)})", sub.get_short_help_str(limit=200)))
    return rows


def _table(heading: str, rows: Sequence[tuple[str, str]]) -> list[str]:
    if not rows:
        return []
    lines = [f"| {heading} | Description |", "| --- | --- |"]
    for name, text in rows:
        shown = name if name.startswith("[") else f"`{name}`"
        lines.append(f"| {_cell(shown)} | {_cell(text).replace('<', '&lt;')} |")
    return [*lines, ""]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _dedent(text: str) -> str:
    import inspect

    return inspect.cleandoc(text)


# --- writing and checking -------------------------------------------------------------


def targets(what: str) -> dict[Path, str]:
    """The generated files for ``completions`` or ``docs``, relative to the repository."""
    if what == "completions":
        return render_completions()
    if what == "docs":
        return {COMMANDS_DOC: render_commands_doc()}
    raise ValueError(f"unknown target {what!r}")


def stale(what: str, root: Path = ROOT) -> list[Path]:
    """The generated files that are missing or differ from what the CLI says now."""
    found = []
    for path, text in targets(what).items():
        full = root / path
        if not full.is_file() or full.read_text(encoding="utf-8") != text:
            found.append(path)
    return found


def write(what: str, root: Path = ROOT) -> list[Path]:
    """Write the generated files; returns the ones that changed."""
    changed = stale(what, root)
    for path, text in targets(what).items():
        if path in changed:
            full = root / path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_text(text, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.devtools", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("completions", "docs"))
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a generated file is stale")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale(args.what, args.root)
        for path in outdated:
            print(f"stale: {path} (run `make {args.what}`)", file=sys.stderr)
        return 1 if outdated else 0
    for path in write(args.what, args.root):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
