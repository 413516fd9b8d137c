"""pshctl's own configuration files: environments, endpoints and SSH timeouts.

Two files with the same format (docs/configuration.md): the project file ``.pshctl.yaml``
at the project root (checked in with the app) and the user file
``~/.config/pshctl/config.yaml``. The project file wins key by key, down to single keys
of one environment or one worker, so the user file can add a personal ``identity_file``
to an environment the project file defines.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pshctl.appdef.layout import PRODUCTS
from pshctl.errors import ConfigError
from pshctl.ssh import names
from pshctl.yamlutil import LineDict, line_of

PROJECT_FILE = ".pshctl.yaml"
USER_FILE = "config.yaml"
MAX_FILE_BYTES = 1 << 20  # a config file is a few hundred bytes; refuse what is not one

# Every number of the ``ssh:`` section: (smallest, largest, whole numbers only).
# A bounded range keeps socket timeouts representable (1e300 s overflows a timeval).
MAX_SECONDS = 3600
SSH_NUMBERS: dict[str, tuple[float, float, bool]] = {
    "connect_timeout": (0, MAX_SECONDS, False),  # the lower bound itself is excluded
    "banner_timeout": (0, MAX_SECONDS, False),
    "auth_timeout": (0, MAX_SECONDS, False),
    "keepalive": (0, MAX_SECONDS, True),  # 0 (included) turns keepalives off
    "keepalive_count": (1, 100, True),
}


def _problem(ok: Callable[[Any], bool], what: str) -> Callable[[Any], str | None]:
    return lambda value: None if ok(value) else f"must be {what}, not {names.shown(value)}"


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != "" and "\0" not in value


def _environment_name(value: Any) -> bool:
    """One word, as a git branch name is: it ends up in messages and suggested commands."""
    return (isinstance(value, str) and 0 < len(value) <= 255 and not value.startswith("-")
            and value.isprintable() and not any(c.isspace() for c in value))


def _checked(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """A names check whose reason is phrased for a config key."""

    def problem(value: Any) -> str | None:
        reason = check(value)
        return None if reason is None else _refused(value, reason)

    return problem


def _refused(value: Any, reason: str) -> str:
    return f"{names.shown(value)} refused: {reason}"


def _port(value: Any) -> bool:
    return isinstance(value, int) and names.port_problem(value) is None


def _one_of(*words: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in words


def _url_problem(value: Any) -> str | None:
    try:
        names.parse_ssh_url(value)
    except ConfigError as exc:
        return f"refused: {exc.message}"
    return None


def _machine_name_problem(value: Any) -> str | None:
    # It becomes part of the SSH user (so does the project id): the user rules, and no
    # '@' that would split it.
    if not _text(value):
        return f"must be a string, not {names.shown(value)}"
    reason = names.user_problem(value) or ("'@' is not allowed" if "@" in value else None)
    return None if reason is None else _refused(value, f"it is part of the SSH user: {reason}")


def _region_problem(value: Any) -> str | None:
    if not _text(value):
        return f"must be a string, not {names.shown(value)}"
    return _checked(names.host_problem)(value)


def _api_url_problem(value: Any) -> str | None:
    from pshctl.platform.settings import checked_url

    if not _text(value):
        return f"must be a URL, not {names.shown(value)}"
    try:
        checked_url(value, "the URL")
    except ConfigError as exc:
        return f"refused: {exc.message}"
    return None


# Keys of an environment entry, and of each worker entry under it: why a value is wrong.
ENDPOINT_KEYS: dict[str, Callable[[Any], str | None]] = {
    "host": _checked(names.host_problem),
    "port": _problem(_port, "a port number (1-65535)"),
    "user": _checked(names.user_problem),
    "identity_file": _problem(_text, "a path to a private key"),
    "known_hosts": _problem(_text, "a path to a known_hosts file"),
    "service_dir": _problem(_text, "a directory path"),
    "service_name": _problem(_text, "a service name (runit service, systemd user unit)"),
    "supervisor": _problem(_one_of("auto", "runit", "systemd"), "one of auto, runit, systemd"),
    "log_dir": _problem(_text, "a directory path"),
    "log_source": _problem(_one_of("auto", "file", "journal"), "one of auto, file, journal"),
    "ssh_url": _url_problem,
    "machine_name": _machine_name_problem,
    "region": _region_problem,
}
_PATH_KEYS = ("identity_file", "known_hosts")
# A container's instances (a scaled worker): a count, with ``{instance}`` standing for
# each one's number in the other keys, or a list of per-instance entries. Not inherited:
# at an environment's top level it is the app container's.
INSTANCES = "instances"
INSTANCE_PLACEHOLDER = "{instance}"
MAX_INSTANCES = 64


@dataclass(frozen=True)
class SshTimeouts:
    """The ``ssh:`` section, in seconds."""

    connect_timeout: float = 10
    banner_timeout: float = 15
    auth_timeout: float = 15
    keepalive: int = 15  # seconds between keepalive requests; 0 turns them off
    keepalive_count: int = 3  # unanswered ones after which the link counts as dead


@dataclass(frozen=True)
class EnvironmentEntry:
    """One environment of a config file (or the sandbox's registration)."""

    name: str
    keys: dict[str, Any] = field(default_factory=dict)  # the app container's endpoint
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-worker overrides
    origin: str | None = None  # ``file:line`` where it is defined, for messages

    @property
    def explicit(self) -> bool:
        """A self-hosted (or sandbox) endpoint, as opposed to a Platform.sh environment."""
        return any(_has_host(keys) for keys in (self.keys, *self.workers.values()))

    def for_worker(self, worker: str) -> dict[str, Any] | None:
        """The worker's keys over the environment's (whose ``instances`` are the app
        container's, not inherited); None when the worker has no entry."""
        if worker not in self.workers:
            return None
        inherited = {k: v for k, v in self.keys.items() if k != INSTANCES}
        return {**inherited, **self.workers[worker]}


def _has_host(keys: Mapping[str, Any]) -> bool:
    instances = keys.get(INSTANCES)
    listed = instances if isinstance(instances, list) else []
    return "host" in keys or any("host" in entry for entry in listed)


@dataclass(frozen=True)
class Settings:
    """Both config files merged; the defaults when there are none."""

    project: str | None = None
    region: str | None = None
    product: str | None = None  # which app definitions a repository with both reads
    # The environment when none is given (before the git branch), and the file it is from.
    default_environment: str | None = None
    default_environment_file: str | None = None
    api_url: str | None = None  # the platform's API (pshctl.platform.settings has defaults)
    auth_url: str | None = None
    ssh: SshTimeouts = field(default_factory=SshTimeouts)
    environments: dict[str, EnvironmentEntry] = field(default_factory=dict)
    files: tuple[Path, ...] = ()  # the files read, highest precedence first

    def environment(self, name: str) -> EnvironmentEntry | None:
        return self.environments.get(name)


def user_config_path() -> Path:
    from pshctl.dirs import config_dir

    return config_dir() / USER_FILE


def load_settings(project_root: Path | None = None) -> Settings:
    """Read the user file and the project file (either may be missing) and merge them."""
    layers: list[dict[str, Any]] = []  # lowest precedence first
    files: list[Path] = []
    candidates = [user_config_path()]
    if project_root is not None:
        candidates.append(Path(project_root) / PROJECT_FILE)
    for path in candidates:
        data = read_config_file(path)
        if data is not _MISSING:
            layers.append(parse_config(data, file=str(path)))
            files.insert(0, path)
    return _build(_merge_layers(layers), tuple(files))


def _display(path: Path) -> str:
    """Config files are named as given, except the project one which is short anyway."""
    return PROJECT_FILE if path.name == PROJECT_FILE else str(path)


# --- reading one file ----------------------------------------------------------------

_MISSING = object()


def read_config_file(path: Path) -> Any:
    """The parsed contents of a config file; ``_MISSING`` when there is no such file.

    A file that is not a regular file (a directory, a FIFO that would block), larger
    than ``MAX_FILE_BYTES``, not UTF-8 or not YAML is a ConfigError naming it.
    """
    from pshctl import files

    display = _display(path)
    try:
        mode = files.existing_mode(path)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=display) from None
    if mode is None:
        return _MISSING
    if not stat.S_ISREG(mode):
        raise ConfigError("is not a regular file", file=display)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks on a swapped-in FIFO
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=display) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"larger than {MAX_FILE_BYTES // 1024} KiB: not a config file",
                          file=display)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=display,
                          line=_line_at(raw, exc.start)) from None
    return parse_text(text, file=display)


def _line_at(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def parse_text(text: str, *, file: str) -> Any:
    """YAML, or JSON read as JSON: ``1e1`` is the number 10.0 there, a string in YAML 1.1.

    A JSON document is parsed as YAML too, only to learn the line of every key; its
    values are JSON's.
    """
    from pshctl import yamlutil

    as_json = _json(text, file)
    if as_json is not _MISSING:
        try:
            # Tabs are JSON whitespace (a tab inside a JSON string must be escaped).
            lines = yamlutil.loads(text.replace("\t", " "), file=file)
        except (ConfigError, RecursionError):
            return as_json
        return _graft(as_json, lines)
    return yamlutil.loads(text, file=file)  # too deep, a bad tag: its own error, its line


def _json(text: str, file: str) -> Any:
    import json

    if not text.lstrip().startswith(("{", "[")):
        return _MISSING
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ConfigError("invalid JSON: nested too deeply", file=file) from None
    except ValueError:
        return _MISSING  # not JSON: read as YAML (which reports its own errors)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _graft(value: Any, located: Any) -> Any:
    """JSON's values in the shape YAML read, keeping YAML's line numbers."""
    if isinstance(value, dict) and isinstance(located, LineDict) and located.keys() == value.keys():
        out = LineDict({key: _graft(item, located[key]) for key, item in value.items()})
        out.line, out.key_lines = located.line, dict(located.key_lines)
        return out
    if isinstance(value, list) and isinstance(located, list) and len(value) == len(located):
        return [_graft(item, twin) for item, twin in zip(value, located, strict=True)]
    return value


# --- one file ------------------------------------------------------------------------


def parse_config(data: Any, *, file: str) -> dict[str, Any]:
    """Validate one config file's contents; return plain data with paths made absolute."""
    display = _display(Path(file))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping", file=display, line=1)
    _refuse_unknown(data, ("project", "region", "product", "default_environment", "api_url",
                           "auth_url", "ssh", "environments"), display, "")
    out: dict[str, Any] = {}
    for key, problem_of in (("project", _machine_name_problem), ("region", _region_problem),
                            ("api_url", _api_url_problem), ("auth_url", _api_url_problem)):
        if key in data:
            problem = problem_of(data[key])
            _check(problem is None, f"'{key}' {problem}", display, line_of(data, key))
            out[key] = str(data[key])
    if "product" in data:
        _check(data["product"] in PRODUCTS, f"'product' must be one of {', '.join(PRODUCTS)}, "
               f"not {data['product']!r}", display, line_of(data, "product"))
        out["product"] = data["product"]
    if "default_environment" in data:
        value = data["default_environment"]
        _check(_environment_name(value), "'default_environment' must be an environment "
               f"name (a git branch's, one word), not {names.shown(value)}",
               display, line_of(data, "default_environment"))
        out["default_environment"] = value
        out["_default_environment_file"] = display
    if "ssh" in data:
        out["ssh"] = _ssh_section(data["ssh"], display, line_of(data, "ssh"))
    if "environments" in data:
        out["environments"] = _environments(data["environments"], Path(file), display,
                                            line_of(data, "environments"))
    return out


def _ssh_section(section: Any, file: str, line: int | None) -> dict[str, float]:
    _check(isinstance(section, dict), "'ssh' must be a mapping", file, line)
    names_ = [f.name for f in fields(SshTimeouts)]
    _refuse_unknown(section, names_, file, "ssh: ")
    for key, value in section.items():
        problem = number_problem(value, *SSH_NUMBERS[key])
        _check(problem is None, f"ssh.{key} {problem}", file, line_of(section, key))
    return dict(section)


def number_problem(value: Any, low: float, high: float, whole: bool) -> str | None:
    """Why ``value`` is not a finite number in range, or None.

    ``low`` is excluded for fractional numbers (a timeout of 0 s means nothing) and
    included for whole ones (a keepalive of 0 turns it off).
    """
    kind = "a whole number" if whole else "a number of seconds"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be {kind}, not {names.shown(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"
    if whole and not isinstance(value, int):
        return f"must be {kind}, not {value}"
    if whole and not low <= value <= high:
        return f"must be from {low:g} to {high:g}, not {names.shown(value)}"
    if not whole and not low < value <= high:
        return f"must be more than {low:g} and at most {high:g}, not {names.shown(value)}"
    return None


def _environments(section: Any, path: Path, file: str, line: int | None) -> dict[str, Any]:
    _check(isinstance(section, dict), "'environments' must be a mapping", file, line)
    out = {}
    for name, entry in section.items():
        at = line_of(section, name)
        _check(isinstance(name, str), "environment names must be strings", file, at)
        if entry is None:
            entry = {}
        where = f"environment {names.shown(name)}: "
        _check(isinstance(entry, dict), f"{where}must be a mapping", file, at)
        out[name] = {**endpoint_keys(entry, base=path.parent, file=file,
                                     where=where, strict=True),
                     "_origin": f"{file}:{at}" if at else file}
    return out


def endpoint_keys(
    entry: Mapping[str, Any],
    *,
    base: Path | None,
    file: str,
    where: str,
    strict: bool,
    allow_workers: bool = True,
    allow_instances: bool = True,
) -> dict[str, Any]:
    """Validate an environment (or worker, or instance) entry. ``strict`` refuses
    unknown keys.

    Relative ``identity_file``/``known_hosts`` paths are taken from ``base`` (the config
    file's directory); ``~`` is expanded.
    """
    allowed = [*ENDPOINT_KEYS, *([INSTANCES] if allow_instances else []),
               *(["workers"] if allow_workers else [])]
    if strict:
        _refuse_unknown(entry, allowed, file, where)
    out: dict[str, Any] = {}
    for key, problem_of in ENDPOINT_KEYS.items():
        if key not in entry:
            continue
        value = entry[key]
        # `{instance}` becomes a number: the value is checked as instance 0's.
        problem = problem_of(value.replace(INSTANCE_PLACEHOLDER, "0")
                             if isinstance(value, str) else value)
        _check(problem is None, f"{where}{key} {problem}", file, line_of(entry, key))
        out[key] = _path(value, base) if key in _PATH_KEYS else value
    if allow_instances and entry.get(INSTANCES) is not None:
        out[INSTANCES] = _instances(entry, base=base, file=file, where=where, strict=strict)
    if allow_workers and entry.get("workers") is not None:
        out["workers"] = _worker_entries(entry, base=base, file=file, where=where, strict=strict)
    return out


def _instances(
    entry: Mapping[str, Any], *, base: Path | None, file: str, where: str, strict: bool
) -> int | list[dict[str, Any]]:
    """``instances: 3``, or one entry per instance (each overriding the container's keys)."""
    value = entry[INSTANCES]
    line = line_of(entry, INSTANCES)
    wanted = (f"a number of instances (1-{MAX_INSTANCES}) or a list of per-instance "
              "entries (host, port, ...)")
    if isinstance(value, int) and not isinstance(value, bool):
        _check(1 <= value <= MAX_INSTANCES, f"{where}{INSTANCES} must be {wanted}, "
               f"not {value}", file, line)
        return value
    _check(isinstance(value, list) and 1 <= len(value) <= MAX_INSTANCES,
           f"{where}{INSTANCES} must be {wanted}, not {names.shown(value)}", file, line)
    out = []
    for number, item in enumerate(value):
        inner = f"{where}instance {number}: "
        item = {} if item is None else item
        _check(isinstance(item, dict), f"{inner}must be a mapping of keys such as host "
               "and port", file, line)
        out.append(endpoint_keys(item, base=base, file=file, where=inner, strict=strict,
                                 allow_workers=False, allow_instances=False))
    return out


def _worker_entries(
    entry: Mapping[str, Any], *, base: Path | None, file: str, where: str, strict: bool
) -> dict[str, dict[str, Any]]:
    workers = entry["workers"]
    _check(isinstance(workers, dict), f"{where}'workers' must be a mapping", file,
           line_of(entry, "workers"))
    out = {}
    for name, body in workers.items():
        at = line_of(workers, name)
        body = {} if body is None else body
        inner = f"{where}worker {names.shown(str(name))}: "
        _check(isinstance(body, dict), f"{inner}must be a mapping", file, at)
        out[str(name)] = endpoint_keys(body, base=base, file=file, strict=strict,
                                       where=inner, allow_workers=False)
    return out


def _path(value: str, base: Path | None) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path)


# --- merging -------------------------------------------------------------------------


def _merge_layers(layers: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, layer)
    return merged


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key, anything else in ``high`` replaces ``low``."""
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(data: dict[str, Any], files: tuple[Path, ...]) -> Settings:
    environments = {
        name: environment_entry(name, raw, origin=raw.get("_origin"))
        for name, raw in data.get("environments", {}).items()
    }
    return Settings(
        project=data.get("project"),
        region=data.get("region"),
        product=data.get("product"),
        default_environment=data.get("default_environment"),
        default_environment_file=data.get("_default_environment_file"),
        api_url=data.get("api_url"),
        auth_url=data.get("auth_url"),
        ssh=SshTimeouts(**data.get("ssh", {})),
        environments=environments,
        files=files,
    )


def environment_entry(
    name: str, keys: Mapping[str, Any], *, origin: str | None = None
) -> EnvironmentEntry:
    """An :class:`EnvironmentEntry` from already validated keys."""
    own = {k: v for k, v in keys.items() if k in ENDPOINT_KEYS or k == INSTANCES}
    workers = {str(w): dict(v) for w, v in (keys.get("workers") or {}).items()}
    return EnvironmentEntry(name=name, keys=own, workers=workers, origin=origin)


def entry_from_registration(name: str, data: Mapping[str, Any], *, file: str) -> EnvironmentEntry:
    """The sandbox's ``environment.json``: validated like a config entry, extra keys ignored."""
    keys = endpoint_keys(data, base=None, file=file, where="", strict=False)
    return environment_entry(name, keys, origin=file)


# --- checks --------------------------------------------------------------------------


def _refuse_unknown(section: Mapping[str, Any], allowed: Any, file: str, where: str) -> None:
    allowed = list(allowed)
    for key in section:
        if key in allowed:
            continue
        import difflib  # only when a name is wrong

        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
        raise ConfigError(f"{where}unknown key {names.shown(key)}", file=file,
                          line=line_of(section, key),
                          hint=hint)


def _check(condition: bool, message: str, file: str, line: int | None) -> None:
    if not condition:
        raise ConfigError(message, file=file, line=line)
