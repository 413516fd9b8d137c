"""Property tests of the config-file reader and the known_hosts reader.

For generated and mutated inputs each reader returns a value or raises a PshctlError
that says where (the file, and the line when there is one); never another exception,
within a memory bound (measured with tracemalloc, deterministic) and a time bound (a
deadline far above the usual few milliseconds: it catches exponential blow-ups, such as
a YAML alias bomb walked in full, not slowness).
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pshctl.errors import ConfigError, PshctlError
from pshctl.settings import load_settings
from pshctl.ssh import certificates, hostkeys

MEMORY_BOUND = 64 * 1024 * 1024
BOUNDED = settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def within_memory(call: Callable[[], Any]) -> Any:
    """``call()``'s value or exception, failing when it allocated above the bound."""
    tracemalloc.start()
    try:
        return call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MEMORY_BOUND, f"peak {peak >> 20} MiB"


# --- generated inputs -------------------------------------------------------------------

KEYS = ["project", "region", "ssh", "environments", "host", "port", "user", "workers",
        "ssh_url", "machine_name", "identity_file", "known_hosts", "connect_timeout",
        "keepalive", "keepalive_count", "banner_timeout", "service_dir", "log_dir", "x"]
TOKENS = ["&a ", "*a", "<<: *a", "!include x", "!!python/object:os.system", "[", "]", "{",
          "}", ": ", "- ", "\t", "\x00", "\x1b[2J", "'", '"', "\\", "\n", "1e1", "1e400",
          ".inf", ".nan", "-1", "99999999999999999999999999", "x$(id)", "-oProxyCommand=x",
          "\u202e", "%h", "? ", "|", ">", "#", "~", "null", "yes"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(TOKENS), st.sampled_from(["127.0.0.1", "h", "u@h:22"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=10))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=5)),
    max_leaves=30,
)


def serialise(data: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(data, indent=1)
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return json.dumps(data)


@st.composite
def config_texts(draw: st.DrawFn) -> bytes:
    text = serialise(draw(documents), draw(st.booleans()))
    for _ in range(draw(st.integers(0, 4))):  # mutations: insert, delete, replace
        at = draw(st.integers(0, len(text)))
        token = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + token + text[at + cut:]
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()) and raw:  # a flipped byte: maybe no longer UTF-8
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:]
    return raw


ALIAS_BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\n"
              + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
                        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
              + "environments: {s: {host: *i}}\n").encode()


@pytest.fixture(scope="module")
def config_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config")


@BOUNDED
@given(raw=config_texts())
@example(raw=ALIAS_BOMB)
@example(raw=b"[" * 50000)
@example(raw=b"a:\n" + b"".join(b"  " * i + b"b:\n" for i in range(1, 2000)))
@example(raw=b"{[a]: 1}")
@example(raw=b'{"ssh": {"connect_timeout": 1e400}}')
@example(raw=b"environments:\n  s: {host: \"x$(touch /tmp/p)\"}\n")
@example(raw=b"\xff\xfe")
def test_config_reader_gives_settings_or_a_located_config_error(
    config_root: Path, raw: bytes
) -> None:
    (config_root / ".pshctl.yaml").write_bytes(raw)

    def read() -> Any:
        try:
            return load_settings(config_root)
        except PshctlError as exc:
            return exc

    outcome = within_memory(read)
    if isinstance(outcome, PshctlError):
        assert isinstance(outcome, ConfigError)
        assert outcome.file == ".pshctl.yaml"
        assert str(outcome).startswith(".pshctl.yaml")
        assert "\x1b" not in str(outcome) and "\x00" not in str(outcome)
    else:
        for entry in outcome.environments.values():
            assert entry.origin and entry.origin.startswith(".pshctl.yaml")


# --- known_hosts ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Public keys ("type base64") and a host certificate, made once by ssh-keygen."""
    top = tmp_path_factory.mktemp("keys")
    out = {}
    for name, kind in (("ed", "ed25519"), ("ec", "ecdsa"), ("ca", "ed25519")):
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "", "-f",
                        str(top / name)], check=True, capture_output=True)
        out[name] = " ".join((top / f"{name}.pub").read_text().split()[:2])
    subprocess.run(["ssh-keygen", "-q", "-s", str(top / "ca"), "-I", "id", "-h", "-n",
                    "127.0.0.1", str(top / "ed.pub")], check=True, capture_output=True)
    out["cert"] = (top / "ed-cert.pub").read_text().split()[1]
    return out


NAMES = ["[127.0.0.1]:2222", "127.0.0.1", "host.example", "*", "!x", "|1|abc|def"]


@st.composite
def known_hosts_files(draw: st.DrawFn, keys: dict[str, str]) -> bytes:
    import paramiko

    lines = []
    for _ in range(draw(st.integers(0, 8))):
        marker = draw(st.sampled_from(["", "@cert-authority ", "@revoked ", "@bogus "]))
        host = draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)))
        if draw(st.booleans()):
            host = paramiko.HostKeys.hash_host(draw(st.sampled_from(NAMES)))
        key = draw(st.sampled_from([keys["ed"], keys["ec"], keys["ca"],
                                    f"ssh-ed25519-cert-v01@openssh.com {keys['cert']}"]))
        line = f"{marker}{host} {key} comment"
        if draw(st.booleans()):
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4))) \
                + line[at + draw(st.integers(0, 5)):]
        lines.append(line.encode("utf-8", "surrogatepass"))
    raw = b"\n".join(lines)
    if draw(st.booleans()):
        raw += draw(st.binary(max_size=40))
    return raw


def _paramiko_key(public: str) -> Any:
    import paramiko

    kind, blob = public.split()
    return paramiko.PKey.from_type_string(kind, base64.b64decode(blob))


@BOUNDED
@given(data=st.data())
def test_known_hosts_reader_skips_what_it_cannot_use_and_never_breaks(
    config_root: Path, real_keys: dict[str, str], data: st.DataObject,
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = data.draw(known_hosts_files(real_keys))
    path = config_root / "known_hosts"
    path.write_bytes(raw)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pshctl.ssh"):
        known = within_memory(lambda: hostkeys.KnownHosts([path]))
    lines = raw.count(b"\n") + 1
    for entry in known.entries:
        assert entry.file == str(path) and 1 <= entry.line <= lines
    for record in caplog.records:
        message = record.getMessage()
        assert message.startswith(f"{path}:") or message.startswith("ignoring"), message
    import paramiko

    presented = [_paramiko_key(real_keys["ed"]), _paramiko_key(real_keys["ec"]),
                 paramiko.Ed25519Key(data=base64.b64decode(real_keys["cert"]))]
    for name in NAMES[:3]:
        known.known_types(name)
        for key in presented:
            try:
                known.verify(name, key, accept_new=False)
            except PshctlError:
                pass  # refused: unknown, changed, revoked, invalid certificate


@BOUNDED
@given(data=st.data())
def test_certificate_reader_refuses_mutations_with_a_reason(
    real_keys: dict[str, str], data: st.DataObject
) -> None:
    blob = bytearray(base64.b64decode(real_keys["cert"]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        choice = data.draw(st.sampled_from(["flip", "cut", "grow"]))
        if choice == "flip":
            blob[at] ^= data.draw(st.integers(1, 255))
        elif choice == "cut":
            del blob[at:at + data.draw(st.integers(1, 16))]
        else:
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        cert = certificates.parse(bytes(blob))
    except ValueError:
        return
    reason = cert.problem("127.0.0.1", 1.7e9)
    assert reason is None or isinstance(reason, str)
