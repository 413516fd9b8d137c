"""Host names, user names and ports from files and APIs, checked before any use.

A host name from a checked-in ``.pshctl.yaml`` or an API response is substituted into the
user's ``~/.ssh/config`` (``Match exec "test %h = bastion"`` runs a shell), opened as a
socket and printed. So every such name is checked first, with the rules OpenSSH 9.6
introduced for names given on its command line (the CVE-2023-51385 class) and the
tightening of later releases (no control characters in user names, no ``,`` in host
names), plus a few of pshctl's own where a name is printed for other tools to read:

* host: not empty, not starting with ``-``; no whitespace, no control or other
  non-printable character; none of ``' ` " $ \\ ; & < > | ( ) { } ,``; and (pshctl) none
  of ``@ [ ]``, which would change how ``user@host`` or ``[host]:port`` is read;
* user: not empty, not starting with ``-``, not ending with ``\\``; no whitespace
  (OpenSSH refuses only whitespace followed by ``-``; pshctl prints users for shells),
  no control or other non-printable character; none of ``' ` " ; & < > | ( ) { }``;
* port: a whole number from 1 to 65535 (digits only when written as text).

Names are at most 255 characters. Nothing here imports anything heavy.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

from pshctl.errors import ConfigError

MAX_NAME = 255
HOST_FORBIDDEN = frozenset("'`\"$\\;&<>|(){},@[]")
USER_FORBIDDEN = frozenset("'`\";&<>|(){}")
_PORT_TEXT = re.compile(r"[0-9]{1,5}")


class _BoundedRepr(reprlib.Repr):
    """reprlib picks its method by the type's name, so a subclass of dict or list (the YAML
    loader's ``LineDict`` and ``LineList``) would get the plain, unbounded ``repr``: these
    are shown as the dict or list they are."""

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, dict) and type(x) is not dict:
            return self.repr_dict(x, level)
        if isinstance(x, list) and type(x) is not list:
            return self.repr_list(x, level)
        return super().repr1(x, level)


_REPR = _BoundedRepr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4


def shown(value: Any) -> str:
    """A value for an error message: control characters escaped, bounded in size.

    Bounded also for a YAML alias bomb, whose plain ``repr`` would never end.
    """
    return _REPR.repr(value)


def _problem(value: Any, kind: str, forbidden: frozenset[str]) -> str | None:
    if not isinstance(value, str):
        return f"a {kind} must be text"
    if not value:
        return f"an empty {kind}"
    if len(value) > MAX_NAME:
        return f"a {kind} longer than {MAX_NAME} characters"
    if value.startswith("-"):
        return f"a {kind} cannot start with '-'"
    for ch in value:
        if ch.isspace():
            return f"a {kind} cannot contain whitespace"
        if not ch.isprintable():
            return f"a {kind} cannot contain control or invisible characters ({ch!r})"
    bad = sorted(set(value) & forbidden)
    if bad:
        return f"a {kind} cannot contain " + " ".join(repr(c) for c in bad)
    return None


def host_problem(value: Any) -> str | None:
    """Why ``value`` cannot be used as a host name, or None when it can."""
    return _problem(value, "host name", HOST_FORBIDDEN)


def user_problem(value: Any) -> str | None:
    """Why ``value`` cannot be used as a remote user name, or None when it can."""
    problem = _problem(value, "user name", USER_FORBIDDEN)
    if problem is None and value.endswith("\\"):
        problem = "a user name cannot end with '\\'"
    return problem


def port_problem(value: Any) -> str | None:
    """Why ``value`` is not a port number (an int, or digits as text), or None."""
    if isinstance(value, str) and _PORT_TEXT.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return "a port must be a whole number"
    if not 0 < value < 65536:
        return "a port must be from 1 to 65535"
    return None


_HINT = ("host and user names may not hold shell syntax, whitespace or control characters "
         "(see docs/security.md)")


def _refuse(problem: str | None, value: Any, what: str, file: str | None,
            line: int | None, hint: str | None = _HINT) -> None:
    if problem:
        raise ConfigError(f"{what} {shown(value)} refused: {problem}", file=file, line=line,
                          hint=hint)


def check_host(value: Any, *, what: str = "host", file: str | None = None,
               line: int | None = None) -> str:
    """``value`` when it is a usable host name; else a ConfigError saying why."""
    _refuse(host_problem(value), value, what, file, line)
    return str(value)


def check_user(value: Any, *, what: str = "user", file: str | None = None,
               line: int | None = None) -> str:
    _refuse(user_problem(value), value, what, file, line)
    return str(value)


def check_port(value: Any, *, what: str = "port", file: str | None = None,
               line: int | None = None) -> int:
    _refuse(port_problem(value), value, what, file, line, hint=None)
    return int(value)


def parse_ssh_url(url: Any, *, file: str | None = None,
                  line: int | None = None) -> tuple[str | None, str, int | None]:
    """``[ssh://][user@]host[:port]`` (``[v6 address]:port`` too) -> checked (user, host, port).

    Raises ConfigError for anything that does not fit, naming the URL escaped.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"SSH URL {shown(url)} is empty or not text", file=file, line=line)
    rest = url.strip().removeprefix("ssh://").rstrip("/")
    user, at, hostport = rest.rpartition("@")
    host, port_text = hostport, None
    if hostport.startswith("["):
        host, closed, after = hostport[1:].partition("]")
        if not closed or (after and not after.startswith(":")):
            raise ConfigError(f"SSH URL {shown(url)}: bad [address]:port", file=file, line=line)
        port_text = after[1:] if after else None
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    where = f"SSH URL {shown(url)}: "
    if at:
        check_user(user, what=f"{where}user", file=file, line=line)
    check_host(host, what=f"{where}host", file=file, line=line)
    port = None
    if port_text is not None:
        port = check_port(port_text, what=f"{where}port", file=file, line=line)
    return (user or None), host, port
