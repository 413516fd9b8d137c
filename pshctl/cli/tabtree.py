"""Tab completion without typer: the command tree as data, and requests answered from it.

Every Tab press starts pshctl. Importing typer and building every click command costs
more than the rest of the answer, so :func:`answer` replies from a table of the command
tree instead: each command's parameters, how the parser treats them, their help, and
how their values complete. The table is built from the real click tree by
:func:`build_tree` whenever typer answers a request (the first press after an install or
an edit of pshctl), and kept in the user's cache directory, stamped with what it was
built from (:func:`fingerprint`); a stale or missing table means typer answers.

The resolver below follows typer's vendored click step for step (``_resolve_context``,
its resilient option parser, ``_resolve_incomplete``, ``shell_complete`` and each shell's
format), so the answers are typer's own; tests/test_completion_fast.py compares the two on
every command, option and value. Whatever the table cannot answer exactly (an option
callback with effects on the command line, help text that rich would rewrap, a shell
other than bash/zsh/fish) returns None, and typer answers as before.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TREE_FORMAT = 1
COMPLETE_VAR = "_PSHCTL_COMPLETE"
PROG_NAME = "pshctl"
SHELLS = ("bash", "zsh", "fish")
_HERE = Path(__file__).resolve().parent
_PACKAGE = _HERE.parent

COMMANDLINE, DEFAULT = "commandline", "default"


class Unsupported(Exception):
    """This request needs something the table does not hold: typer answers it."""


# --- where the table lives, and what it was built from ---------------------------------


def cache_path(environ: Mapping[str, str] | None = None) -> Path:
    from pshctl.dirs import cache_dir

    return cache_dir(environ) / "completion-tree.json"


def fingerprint(extra: Mapping[str, str]) -> list[Any]:
    """What the table depends on: pshctl's sources, typer's and rich's, the interpreter.

    ``extra`` maps the modules whose files count (typer, rich) to their ``__init__``
    paths, as recorded when the table was built; sizes and modification times only, so
    checking costs a few stat calls.
    """
    from pshctl import __version__

    stamp: list[Any] = [TREE_FORMAT, __version__, sys.version, sys.executable]
    for root, dirs, files in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            if name.endswith(".py"):
                stamp.append(_stat(os.path.join(root, name)))
    for module in sorted(extra):
        stamp.append([module, _stat(extra[module])])
    return stamp


def _stat(path: str) -> list[Any]:
    try:
        info = os.stat(path)
    except OSError:
        return [path, None]
    return [path, info.st_size, info.st_mtime_ns]


def load_tree(environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The cached table, if it was built from exactly what is installed now."""
    try:
        data = json.loads(cache_path(environ).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != TREE_FORMAT:
        return None
    if data.get("fingerprint") != fingerprint(data.get("modules") or {}):
        return None
    tree = data.get("tree")
    return tree if isinstance(tree, dict) else None


def save_tree(tree: dict[str, Any], modules: Mapping[str, str],
              environ: Mapping[str, str] | None = None) -> None:
    """Keep the table for the next Tab press; a cache that cannot be written is no error."""
    from pshctl import files

    data = {"format": TREE_FORMAT, "modules": dict(modules),
            "fingerprint": fingerprint(modules), "tree": tree}
    path = cache_path(environ)
    try:
        files.make_dirs(path.parent)
        files.write_file(path, json.dumps(data, separators=(",", ":")))
    except OSError:
        pass


# --- building the table (the slow path: typer is imported by then) ---------------------


def refresh_cache(environ: Mapping[str, str] | None = None) -> None:
    """Build and keep the table when the cached one is missing or stale."""
    if load_tree(environ) is not None:
        return
    try:
        tree, modules = build_tree()
    except Unsupported:
        return
    save_tree(tree, modules, environ)


def build_tree() -> tuple[dict[str, Any], dict[str, str]]:
    """The table of pshctl's click tree, and the modules its rendering came from."""
    import rich
    import typer
    from typer import _click as click
    from typer.main import get_command

    from pshctl.cli.root import app

    root = get_command(app)
    ctx = root.make_context(PROG_NAME, [], resilient_parsing=True)
    tree = _node(root, ctx, click)
    modules = {"typer": str(typer.__file__), "rich": str(rich.__file__)}
    return tree, modules


def _node(command: Any, ctx: Any, click: Any) -> dict[str, Any]:
    from typer.core import TyperGroup

    if ctx.token_normalize_func is not None or ctx.auto_envvar_prefix is not None \
            or ctx.default_map is not None:
        raise Unsupported("context settings the table does not model")
    help_option = command.get_help_option(ctx)
    node: dict[str, Any] = {
        "help": _help(command.get_short_help_str()),
        "hidden": bool(command.hidden),
        "interspersed": bool(ctx.allow_interspersed_args),
        "ignore_unknown": bool(ctx.ignore_unknown_options),
        "params": [_param(p, ctx, p is help_option, command) for p in command.get_params(ctx)],
    }
    if isinstance(command, TyperGroup):
        if command.chain if hasattr(command, "chain") else False:
            raise Unsupported("chained groups")
        node["commands"] = {}
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None:
                continue
            sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            node["commands"][name] = _node(sub, sub_ctx, click)
    return node


def _param(param: Any, ctx: Any, is_help: bool, command: Any) -> dict[str, Any]:
    from typer.core import TyperArgument, TyperOption

    if param.envvar is not None or param.nargs not in (1, -1) or param.name is None:
        raise Unsupported(f"parameter {param.name}: an envvar, no name or nargs > 1")
    string = type(param.type).__name__ == "StringParamType"
    entry: dict[str, Any] = {
        "name": param.name,
        "option": isinstance(param, TyperOption),
        "opts": list(param.opts),
        "secondary": list(param.secondary_opts),
        "nargs": param.nargs,
        "multiple": bool(param.multiple),
        "eager": bool(param.is_eager),
        "exposed": bool(param.expose_value),  # in ``ctx.params`` (not --help)
        # A callback (other than --help's, which does nothing while completing) may act
        # when its option is on the line, as --version prints: typer must answer then.
        "effect": param.callback is not None and not is_help,
        "string": string,
        "default": _default(ctx.params.get(param.name), string),
        "listed": param in command.params,  # what callbacks see as ``ctx.command.params``
        "complete": _value_completion(param),
    }
    if isinstance(param, TyperOption):
        entry.update(flag=bool(param.is_flag), bool_flag=bool(param.is_bool_flag),
                     count=bool(param.count), hidden=bool(param.hidden),
                     help=_help(param.help))
    elif not isinstance(param, TyperArgument):
        raise Unsupported(f"parameter {param.name} of type {type(param).__name__}")
    return entry


def _default(value: Any, string: bool) -> Any:
    if not string:
        return None  # callbacks only ever read string values
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise Unsupported(f"default {value!r}")


def _value_completion(param: Any) -> dict[str, Any]:
    from typer._types import TyperChoice

    custom = param._custom_shell_complete
    if custom is not None:
        return _callback(custom)
    values: Any = param.type
    kind = type(values)
    if isinstance(values, TyperChoice):
        return {"kind": "choice", "choices": [str(c) for c in values.choices],
                "case_sensitive": bool(values.case_sensitive)}
    if kind.shell_complete is _base_shell_complete():
        return {"kind": "none"}
    if kind.__name__ == "TyperPath":
        return {"kind": "none"}  # typer's Path type offers nothing; the shell lists files
    raise Unsupported(f"values of {kind.__name__}")


def _base_shell_complete() -> Any:
    from typer._click.types import ParamType

    return ParamType.shell_complete


def _callback(custom: Any) -> dict[str, Any]:
    """Unwrap typer's ``autocompletion=`` adapter: the function and how it is called."""
    cells = dict(zip(custom.__code__.co_freevars, custom.__closure__ or (), strict=True))
    wrapper = cells["autocompletion"].cell_contents
    inner = dict(zip(wrapper.__code__.co_freevars, wrapper.__closure__ or (), strict=True))
    function = inner["callback"].cell_contents
    names = {key: inner[key].cell_contents for key in ("ctx_name", "args_name",
                                                        "incomplete_name")}
    if function.__module__ != "pshctl.cli.complete" or "." in function.__qualname__:
        raise Unsupported(f"completion callback {function.__qualname__}")
    return {"kind": "callback", "function": function.__name__, **names}


def _help(text: str | None) -> dict[str, Any] | None:
    """Help as each shell's format shows it; ``plain`` when rich leaves it unchanged."""
    if not text:
        return None
    zsh = _zsh_escape(text)
    fish = re.sub(r"\s", " ", text)
    return {"text": text, "zsh": zsh, "fish": fish,
            "plain": _rendered(zsh) == zsh and _rendered(fish) == fish}


def _rendered(text: str) -> str:
    """What typer's help sanitizer makes of ``text`` on a console too wide to wrap it."""
    from rich.console import Console

    console = Console(width=100_000, color_system=None)
    return "".join(segment.text for segment in console.render(text)).rstrip("\n")


def _zsh_escape(s: str) -> str:
    return (s.replace('"', '""').replace("'", "''").replace("$", "\\$")
            .replace("`", "\\`").replace(":", r"\\:"))


# --- answering (no typer from here on) -------------------------------------------------


def answer(environ: Mapping[str, str] | None = None) -> tuple[str | None, int] | None:
    """The reply to the completion request in ``environ``: (text to print, exit status),
    or None when typer must answer (no fresh table, or a request it does not model)."""
    env = os.environ if environ is None else environ
    instruction, _, shell = env.get(COMPLETE_VAR, "").partition("_")
    if instruction != "complete" or shell not in SHELLS:
        return None
    tree = load_tree(env)
    if tree is None:
        return None
    try:
        args, incomplete = completion_args(shell, env)
        items = Resolver(tree).complete(args, incomplete)
        return render(shell, items, env)
    except Exception:  # noqa: BLE001 - anything unexpected: typer answers, as before
        return None


def completion_args(shell: str, env: Mapping[str, str]) -> tuple[list[str], str]:
    """The words before the one being completed, and that word (typer's rules)."""
    if shell == "bash":
        words = split_arg_string(env["COMP_WORDS"])
        cword = int(env["COMP_CWORD"])
        args = words[1:cword]
        incomplete = words[cword] if cword < len(words) else ""
        return args, incomplete
    line = env.get("_TYPER_COMPLETE_ARGS", "")
    args = split_arg_string(line)[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


def split_arg_string(string: str) -> list[str]:
    """As click's: shlex words, an unfinished quote or escape kept as it is."""
    import shlex

    lex = shlex.shlex(string, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out = []
    try:
        for token in lex:
            out.append(token)
    except ValueError:
        out.append(lex.token)
    return out


class Item:
    """One suggestion: its value, and its help as a dict of the table (or None)."""

    __slots__ = ("help", "value")

    def __init__(self, value: str, help: dict[str, Any] | None = None) -> None:
        self.value = value
        self.help = help


class _Param:
    """A parameter as the completion callbacks see it (``.name``, ``.opts``)."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry
        self.name: str = entry["name"]
        self.opts: list[str] = entry["opts"]
        self.secondary_opts: list[str] = entry["secondary"]


class _Command:
    def __init__(self, node: dict[str, Any]) -> None:
        self.node = node
        self.all_params = [_Param(p) for p in node["params"]]
        self.params = [p for p in self.all_params if p.entry["listed"]]


class Context:
    """The part of a click context that pshctl's completion callbacks use."""

    def __init__(self, node: dict[str, Any], parent: Context | None, name: str) -> None:
        self.node = node
        self.command = _Command(node)
        self.parent = parent
        self.info_name = name
        self.params: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.args: list[str] = []
        self.protected_args: list[str] = []
        self.opt_prefixes: set[str] = set(parent.opt_prefixes) if parent else set()


class _Opaque:
    """The value of a non-string parameter: no callback reads those."""

    __slots__ = ()


OPAQUE = _Opaque()


class _UsageError(Exception):
    """Where click's parser gives up; in resilient parsing it keeps what it had."""


class _Option:
    def __init__(self, param: _Param, opts: list[str], action: str, nargs: int = 1,
                 const: Any = None) -> None:
        self.param = param
        self.action = action
        self.nargs = nargs
        self.const = const
        self.short: list[str] = []
        self.long: list[str] = []
        self.prefixes: set[str] = set()
        for opt in opts:
            prefix, value = _split_opt(opt)
            if not prefix:
                raise Unsupported(f"option {opt}")
            self.prefixes.add(prefix[0])
            if len(prefix) == 1 and len(value) == 1:
                self.short.append(opt)
            else:
                self.long.append(opt)
                self.prefixes.add(prefix)

    @property
    def takes_value(self) -> bool:
        return self.action in ("store", "append")

    def process(self, value: Any, state: _State) -> None:
        dest = self.param.name
        if self.action == "store":
            state.opts[dest] = value
        elif self.action == "store_const":
            state.opts[dest] = self.const
        elif self.action == "append":
            state.opts.setdefault(dest, []).append(value)
        elif self.action == "append_const":
            state.opts.setdefault(dest, []).append(self.const)
        elif self.action == "count":
            state.opts[dest] = state.opts.get(dest, 0) + 1
        state.order.append(self.param)


class _State:
    def __init__(self, rargs: list[str]) -> None:
        self.opts: dict[str, Any] = {}
        self.largs: list[str] = []
        self.rargs = rargs
        self.order: list[_Param] = []


def _split_opt(opt: str) -> tuple[str, str]:
    first = opt[:1]
    if first.isalnum():
        return "", opt
    if opt[1:2] == first:
        return opt[:2], opt[2:]
    return first, opt[1:]


class _Parser:
    """click's option parser, as it behaves with ``resilient_parsing``."""

    def __init__(self, ctx: Context) -> None:
        self.interspersed = ctx.node["interspersed"]
        self.ignore_unknown = ctx.node["ignore_unknown"]
        self.short: dict[str, _Option] = {}
        self.long: dict[str, _Option] = {}
        self.prefixes = {"-", "--"}
        self.arguments: list[_Param] = []
        for param in ctx.command.all_params:
            entry = param.entry
            if not entry["option"]:
                self.arguments.append(param)
                continue
            action = "append" if entry["multiple"] else "count" if entry["count"] else "store"
            if entry["flag"]:
                action += "_const"
                if entry["bool_flag"] and entry["secondary"]:
                    self._add(_Option(param, entry["opts"], action, const=True))
                    self._add(_Option(param, entry["secondary"], action, const=False))
                else:
                    self._add(_Option(param, entry["opts"], action, const=True))
            else:
                self._add(_Option(param, entry["opts"], action, nargs=entry["nargs"]))

    def _add(self, option: _Option) -> None:
        self.prefixes.update(option.prefixes)
        for opt in option.short:
            self.short[opt] = option
        for opt in option.long:
            self.long[opt] = option

    def parse(self, args: list[str]) -> tuple[dict[str, Any], list[str], list[_Param]]:
        state = _State(args)
        try:
            self._options(state)
            self._arguments(state)
        except _UsageError:
            pass
        return state.opts, state.largs, state.order

    def _arguments(self, state: _State) -> None:
        rest = state.largs + state.rargs
        values: list[Any] = []
        greedy = None
        for index, param in enumerate(self.arguments):
            if param.entry["nargs"] == -1:
                greedy = index
                values.append(None)
            else:
                values.append(None)
        # _unpack_args for nargs 1 and -1: singles from the front before the greedy
        # one, from the back after it; the greedy one takes what is left.
        front = self.arguments[: greedy if greedy is not None else len(self.arguments)]
        for index in range(len(front)):
            values[index] = rest.pop(0) if rest else None
        if greedy is not None:
            back = self.arguments[greedy + 1 :]
            for offset in range(len(back)):
                values[len(self.arguments) - 1 - offset] = rest.pop() if rest else None
            values[greedy] = tuple(rest)
            rest = []
        for param, value in zip(self.arguments, values, strict=True):
            if param.entry["nargs"] == -1 and value == ():
                value = None
            state.opts[param.name] = value
            state.order.append(param)
        state.largs = rest
        state.rargs = []

    def _options(self, state: _State) -> None:
        while state.rargs:
            arg = state.rargs.pop(0)
            if arg == "--":
                return
            if arg[:1] in self.prefixes and len(arg) > 1:
                self._opts(arg, state)
            elif self.interspersed:
                state.largs.append(arg)
            else:
                state.rargs.insert(0, arg)
                return

    def _long(self, opt: str, explicit: str | None, state: _State) -> None:
        option = self.long.get(opt)
        if option is None:
            raise _NoSuchOption()
        if option.takes_value:
            if explicit is not None:
                state.rargs.insert(0, explicit)
            value = self._value(option, state)
        elif explicit is not None:
            raise _UsageError()
        else:
            value = None
        option.process(value, state)

    def _short(self, arg: str, state: _State) -> None:
        stop = False
        i = 1
        prefix = arg[0]
        unknown = []
        for ch in arg[1:]:
            option = self.short.get(f"{prefix}{ch}")
            i += 1
            if option is None:
                if self.ignore_unknown:
                    unknown.append(ch)
                    continue
                raise _NoSuchOption()
            if option.takes_value:
                if i < len(arg):
                    state.rargs.insert(0, arg[i:])
                    stop = True
                value = self._value(option, state)
            else:
                value = None
            option.process(value, state)
            if stop:
                break
        if self.ignore_unknown and unknown:
            state.largs.append(f"{prefix}{''.join(unknown)}")

    @staticmethod
    def _value(option: _Option, state: _State) -> Any:
        if len(state.rargs) < option.nargs:
            raise _UsageError()
        return state.rargs.pop(0)

    def _opts(self, arg: str, state: _State) -> None:
        explicit = None
        if "=" in arg:
            opt, explicit = arg.split("=", 1)
        else:
            opt = arg
        try:
            self._long(opt, explicit, state)
        except _NoSuchOption:
            if arg[:2] not in self.prefixes:
                self._short(arg, state)
                return
            if not self.ignore_unknown:
                raise
            state.largs.append(arg)


class _NoSuchOption(_UsageError):
    pass


class Resolver:
    """typer's completion steps over the table."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self.tree = tree

    def context(self, node: dict[str, Any], name: str, args: list[str],
                parent: Context | None) -> Context:
        ctx = Context(node, parent, name)
        parser = _Parser(ctx)
        opts, rest, _ = parser.parse(args)
        for param in ctx.command.all_params:
            entry = param.entry
            value = opts.get(param.name)
            if value is None:
                ctx.sources[param.name] = DEFAULT
                default = entry["default"]
                value = (tuple(default) if isinstance(default, list) else default) \
                    if entry["string"] else OPAQUE
            else:
                if entry["effect"]:
                    raise Unsupported(f"{param.name} acts when given")
                ctx.sources[param.name] = COMMANDLINE
                value = self._value(entry, value)
            if entry["exposed"]:
                ctx.params[param.name] = value
        ctx.args = rest
        ctx.opt_prefixes.update(parser.prefixes)
        if "commands" in node and rest:
            ctx.protected_args, ctx.args = rest[:1], rest[1:]
        return ctx

    @staticmethod
    def _value(entry: dict[str, Any], value: Any) -> Any:
        if not entry["string"]:
            return OPAQUE
        if entry["multiple"] or entry["nargs"] == -1:
            return tuple(value)
        return value

    def resolve(self, args: list[str]) -> Context:
        ctx = self.context(self.tree, PROG_NAME, list(args), None)
        rest = ctx.protected_args + ctx.args
        while rest:
            commands = ctx.node.get("commands")
            if commands is None:
                break
            node = commands.get(rest[0])
            if node is None:
                return ctx
            ctx = self.context(node, rest[0], rest[1:], ctx)
            rest = ctx.protected_args + ctx.args
        return ctx

    def complete(self, args: list[str], incomplete: str) -> list[Item]:
        ctx = self.resolve(args)
        args = list(args)
        if incomplete == "=":
            incomplete = ""
        elif "=" in incomplete and _start_of_option(ctx, incomplete):
            name, _, incomplete = incomplete.partition("=")
            args.append(name)
        if "--" not in args and _start_of_option(ctx, incomplete):
            return self.command_items(ctx, incomplete)
        params = ctx.command.all_params
        for param in params:
            if _incomplete_option(ctx, args, param):
                return self.value_items(ctx, param, incomplete)
        for param in params:
            if _incomplete_argument(ctx, param):
                return self.value_items(ctx, param, incomplete)
        return self.command_items(ctx, incomplete)

    @staticmethod
    def command_items(ctx: Context, incomplete: str) -> list[Item]:
        items = [Item(name, node["help"]) for name, node in ctx.node.get("commands", {}).items()
                 if name.startswith(incomplete) and not node["hidden"]]
        if incomplete and not incomplete[0].isalnum():
            for param in ctx.command.all_params:
                entry = param.entry
                if (not entry["option"] or entry["hidden"]
                        or (not entry["multiple"]
                            and ctx.sources.get(param.name) == COMMANDLINE)):
                    continue
                items.extend(Item(name, entry["help"])
                             for name in [*entry["opts"], *entry["secondary"]]
                             if name.startswith(incomplete))
        return items

    @staticmethod
    def value_items(ctx: Context, param: _Param, incomplete: str) -> list[Item]:
        how = param.entry["complete"]
        if how["kind"] == "choice":
            if how["case_sensitive"]:
                return [Item(c) for c in how["choices"] if c.startswith(incomplete)]
            lowered = incomplete.lower()
            return [Item(c) for c in how["choices"] if c.lower().startswith(lowered)]
        if how["kind"] != "callback":
            return []
        from pshctl.cli import complete

        function = getattr(complete, how["function"])
        call: dict[str, Any] = {}
        if how["ctx_name"]:
            call[how["ctx_name"]] = ctx
        if how["args_name"]:
            call[how["args_name"]] = []
        if how["incomplete_name"]:
            call[how["incomplete_name"]] = incomplete
        items = []
        for found in function(**call):
            if isinstance(found, tuple):
                raise Unsupported("suggestions with help")  # rich would render that help
            if not isinstance(found, str):
                raise Unsupported(f"suggestion {found!r}")
            if found.startswith(incomplete):
                items.append(Item(found))
        return items


def _start_of_option(ctx: Context, value: str) -> bool:
    return bool(value) and value[0] in ctx.opt_prefixes


def _incomplete_option(ctx: Context, args: list[str], param: _Param) -> bool:
    entry = param.entry
    if not entry["option"] or entry["flag"] or entry["count"]:
        return False
    last = None
    for index, arg in enumerate(reversed(args)):
        if index + 1 > entry["nargs"]:
            break
        if _start_of_option(ctx, arg):
            last = arg
            break
    return last is not None and last in entry["opts"]


def _incomplete_argument(ctx: Context, param: _Param) -> bool:
    entry = param.entry
    if entry["option"]:
        return False
    return entry["nargs"] == -1 or ctx.sources.get(param.name) != COMMANDLINE


# --- each shell's format ---------------------------------------------------------------


def render(shell: str, items: list[Item], env: Mapping[str, str]) -> tuple[str | None, int]:
    """The text typer prints for these items (None: nothing), and the exit status."""
    if shell == "bash":
        return "\n".join(item.value for item in items), 0
    width = _narrowest_console(env)
    lines = []
    for item in items:
        help = item.help
        if help is not None and (not help["plain"] or len(help[shell]) > width):
            raise Unsupported("help that rich would rewrap")  # typer renders it
        if shell == "zsh":
            value = _zsh_escape(item.value)
            lines.append(f'"{value}":"{help["zsh"]}"' if help else f'"{value}"')
        else:
            lines.append(f"{item.value}\t{help['fish']}" if help else item.value)
    if shell == "zsh":
        return ("_arguments '*: :((" + "\n".join(lines) + "))'" if lines else "_files"), 0
    action = env.get("_TYPER_COMPLETE_FISH_ACTION", "")
    if action == "is-args":
        return None, 0 if lines else 1
    if action == "get-args" and lines:
        return "\n".join(lines), 0
    return "", 0


def _narrowest_console(env: Mapping[str, str]) -> int:
    """The width rich wraps help to in this process (the narrowest it might be).

    As typer's console finds it: TERMINAL_WIDTH, else COLUMNS, else the size of the
    first standard stream that is a terminal, else 80; a dumb terminal may mean 80.
    """
    widths = []
    given = env.get("TERMINAL_WIDTH") or ""
    if not given:
        columns = env.get("COLUMNS", "")
        given = columns if columns.isdigit() else ""
    if given:
        if not given.isdigit():
            raise Unsupported(f"TERMINAL_WIDTH={given!r}")  # typer itself fails on it
        widths.append(int(given))
    else:
        widths.append(_terminal_columns() or 80)
    if env.get("TERM", "").lower() in ("dumb", "unknown"):
        widths.append(80)
    return min(widths)


def _terminal_columns() -> int:
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns
        except (OSError, ValueError):
            continue
    return 0


def run_fast(environ: Mapping[str, str] | None = None) -> int | None:
    """Answer on stdout and return the exit status; None when typer must answer."""
    reply = answer(environ)
    if reply is None:
        return None
    text, status = reply
    if text is not None:
        from pshctl.cli.output import write_text

        write_text(text + "\n")
    return status
