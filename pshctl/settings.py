"""pshctl's own configuration files: environments, endpoints and SSH timeouts.

Two files with the same format (docs/configuration.md): the project file ``.pshctl.yaml``
at the project root (checked in with the app) and the user file
``~/.config/pshctl/config.yaml``. The project file wins key by key, down to single keys
of one environment or one worker, so the user file can add a personal ``identity_file``
to an environment the project file defines.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pshctl.errors import ConfigError
from pshctl.yamlutil import line_of, load_file

PROJECT_FILE = ".pshctl.yaml"
USER_FILE = "config.yaml"


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def _one_of(*words: str) -> Callable[[Any], bool]:
    return lambda value: value in words


def _seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


# Keys of an environment entry, and of each worker entry under it, with their checks.
ENDPOINT_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "host": (_text, "a host name or address"),
    "port": (_port, "a port number (1-65535)"),
    "user": (_text, "a user name"),
    "identity_file": (_text, "a path to a private key"),
    "known_hosts": (_text, "a path to a known_hosts file"),
    "service_dir": (_text, "a directory path"),
    "service_name": (_text, "a service name (runit service, systemd user unit)"),
    "supervisor": (_one_of("auto", "runit", "systemd"), "one of auto, runit, systemd"),
    "log_dir": (_text, "a directory path"),
    "ssh_url": (_text, "user@host"),
    "machine_name": (_text, "an environment machine name, e.g. main-bvxea6i"),
    "region": (_text, "a region host suffix, e.g. eu-3.platform.sh"),
}
_PATH_KEYS = ("identity_file", "known_hosts")


@dataclass(frozen=True)
class SshTimeouts:
    """The ``ssh:`` section, in seconds."""

    connect_timeout: float = 10
    banner_timeout: float = 15
    auth_timeout: float = 15
    keepalive: int = 15  # interval of keepalive messages; 0 turns them off


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
        return "host" in self.keys or any("host" in w for w in self.workers.values())

    def for_worker(self, worker: str) -> dict[str, Any] | None:
        """The worker's keys over the environment's; None when the worker has no entry."""
        if worker not in self.workers:
            return None
        return {**self.keys, **self.workers[worker]}


@dataclass(frozen=True)
class Settings:
    """Both config files merged; the defaults when there are none."""

    project: str | None = None
    region: str | None = None
    ssh: SshTimeouts = field(default_factory=SshTimeouts)
    environments: dict[str, EnvironmentEntry] = field(default_factory=dict)
    files: tuple[Path, ...] = ()  # the files read, highest precedence first

    def environment(self, name: str) -> EnvironmentEntry | None:
        return self.environments.get(name)


def user_config_path() -> Path:
    from platformdirs import user_config_path as config_dir

    return config_dir("pshctl") / USER_FILE


def load_settings(project_root: Path | None = None) -> Settings:
    """Read the user file and the project file (either may be missing) and merge them."""
    layers: list[dict[str, Any]] = []  # lowest precedence first
    files: list[Path] = []
    candidates = [user_config_path()]
    if project_root is not None:
        candidates.append(Path(project_root) / PROJECT_FILE)
    for path in candidates:
        if path.is_file():
            layers.append(parse_config(load_file(path, display=_display(path)), file=str(path)))
            files.insert(0, path)
    return _build(_merge_layers(layers), tuple(files))


def _display(path: Path) -> str:
    """Config files are named as given, except the project one which is short anyway."""
    return PROJECT_FILE if path.name == PROJECT_FILE else str(path)


# --- one file ------------------------------------------------------------------------


def parse_config(data: Any, *, file: str) -> dict[str, Any]:
    """Validate one config file's contents; return plain data with paths made absolute."""
    display = _display(Path(file))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping", file=display, line=1)
    _refuse_unknown(data, ("project", "region", "ssh", "environments"), display, "")
    out: dict[str, Any] = {}
    for key in ("project", "region"):
        if key in data:
            _check(_text(data[key]), f"'{key}' must be a string", display, line_of(data, key))
            out[key] = str(data[key])
    if "ssh" in data:
        out["ssh"] = _ssh_section(data["ssh"], display, line_of(data, "ssh"))
    if "environments" in data:
        out["environments"] = _environments(data["environments"], Path(file), display,
                                            line_of(data, "environments"))
    return out


def _ssh_section(section: Any, file: str, line: int | None) -> dict[str, float]:
    _check(isinstance(section, dict), "'ssh' must be a mapping", file, line)
    names = [f.name for f in fields(SshTimeouts)]
    _refuse_unknown(section, names, file, "ssh: ")
    for key, value in section.items():
        if key == "keepalive":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            _check(ok, "ssh.keepalive must be a whole number of seconds (0: off)",
                   file, line_of(section, key))
        else:
            _check(_seconds(value), f"ssh.{key} must be a number of seconds above 0",
                   file, line_of(section, key))
    return dict(section)


def _environments(section: Any, path: Path, file: str, line: int | None) -> dict[str, Any]:
    _check(isinstance(section, dict), "'environments' must be a mapping", file, line)
    out = {}
    for name, entry in section.items():
        at = line_of(section, name)
        _check(isinstance(name, str), "environment names must be strings", file, at)
        if entry is None:
            entry = {}
        _check(isinstance(entry, dict), f"environment '{name}' must be a mapping", file, at)
        out[name] = {**endpoint_keys(entry, base=path.parent, file=file,
                                     where=f"environment '{name}': ", strict=True),
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
) -> dict[str, Any]:
    """Validate an environment (or worker) entry. ``strict`` refuses unknown keys.

    Relative ``identity_file``/``known_hosts`` paths are taken from ``base`` (the config
    file's directory); ``~`` is expanded.
    """
    allowed = [*ENDPOINT_KEYS, *(["workers"] if allow_workers else [])]
    if strict:
        _refuse_unknown(entry, allowed, file, where)
    out: dict[str, Any] = {}
    for key, (ok, what) in ENDPOINT_KEYS.items():
        if key not in entry:
            continue
        value = entry[key]
        _check(ok(value), f"{where}{key} must be {what}, not {value!r}", file, line_of(entry, key))
        out[key] = _path(value, base) if key in _PATH_KEYS else value
    if allow_workers and entry.get("workers") is not None:
        out["workers"] = _worker_entries(entry, base=base, file=file, where=where, strict=strict)
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
        _check(isinstance(body, dict), f"{where}worker '{name}' must be a mapping", file, at)
        out[str(name)] = endpoint_keys(body, base=base, file=file, strict=strict,
                                       where=f"{where}worker '{name}': ", allow_workers=False)
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
        ssh=SshTimeouts(**data.get("ssh", {})),
        environments=environments,
        files=files,
    )


def environment_entry(
    name: str, keys: Mapping[str, Any], *, origin: str | None = None
) -> EnvironmentEntry:
    """An :class:`EnvironmentEntry` from already validated keys."""
    own = {k: v for k, v in keys.items() if k in ENDPOINT_KEYS}
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
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
        raise ConfigError(f"{where}unknown key '{key}'", file=file, line=line_of(section, key),
                          hint=hint)


def _check(condition: bool, message: str, file: str, line: int | None) -> None:
    if not condition:
        raise ConfigError(message, file=file, line=line)
