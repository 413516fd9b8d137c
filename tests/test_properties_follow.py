"""Property tests of the follow protocol decoder (pshctl/logs/protocol.py).

What a remote sends is untrusted: any generated or mutated frame stream, cut into any
chunks, either decodes or raises a PshctlError (FollowProtocolError), within a time and
memory bound; never another exception. Well-formed streams also decode to what they
carry, so a decoder that dropped everything would fail here.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pshctl.errors import PshctlError
from pshctl.logs.protocol import MAX_HEADER, FollowDecoder, LogLines
from tests.test_properties_readers import BOUNDED, within_memory

payloads = st.binary(max_size=300) | st.sampled_from(
    [b"line\n", b"a\nb\n", b"no newline", b"\x1b]52;c;eA==\x07\n", b"\0\0\0", b"\n" * 50])
file_ids = st.sampled_from(["2049:1234", "1:1", "0:0", "x", "-1:2", "1:", ""])
numbers = st.integers(0, 400).map(str) | st.sampled_from(
    ["-1", "1e3", "0x10", str(10**30), "+5", "", " ", "\u0661", "nan"])


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """One frame, well formed or not; D and B carry their payload."""
    kind = draw(st.sampled_from("DDDDBSRTMHZ"))
    if kind in "DB":
        data = draw(payloads)
        size = str(len(data)) if draw(st.booleans()) else draw(numbers)
        words = ["D", size] if kind == "D" else [
            "B", draw(file_ids), draw(numbers), size, draw(st.sampled_from(["0", "1", "2"]))]
        return (" ".join(words) + "\n").encode() + data
    extra = {"S": [draw(file_ids), draw(numbers)], "R": [draw(file_ids)]}.get(kind, [])
    return (" ".join([kind, *extra]) + "\n").encode()


def mutate(stream: bytes, data: st.DataObject) -> bytes:
    """Bytes flipped, cut out or inserted: a corrupted link."""
    for _ in range(data.draw(st.integers(0, 3))):
        if not stream:
            break
        at = data.draw(st.integers(0, len(stream) - 1))
        change = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if change == "flip":
            stream = stream[:at] + bytes([stream[at] ^ 0xFF]) + stream[at + 1:]
        elif change == "cut":
            stream = stream[:at] + stream[at + data.draw(st.integers(1, 20)):]
        else:
            stream = stream[:at] + data.draw(st.binary(max_size=20)) + stream[at:]
    return stream


def chunked(stream: bytes, data: st.DataObject) -> list[bytes]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    edges = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(edges)]


def run(chunks: list[bytes], lines: int | None, resets: set[int]) -> list[object]:
    decoder = FollowDecoder("w", "/var/log/app.log", lines)
    events: list[object] = []
    for index, chunk in enumerate(chunks):
        if index in resets:
            decoder.reset_link()
        events += decoder.feed(chunk)
        point = decoder.resume_point
        assert point is None or point[1] >= 0
    return events


@BOUNDED
@given(st.lists(frames(), max_size=12), st.data(),
       st.one_of(st.none(), st.integers(0, 5)))
def test_any_stream_decodes_or_is_a_pshctl_error(frame_list: list[bytes], data: st.DataObject,
                                                  lines: int | None) -> None:
    stream = mutate(b"".join(frame_list), data)
    chunks = chunked(stream, data)
    resets = set(data.draw(st.lists(st.integers(0, len(chunks)), max_size=2)))
    decodes_or_refuses(chunks, lines, resets)


def decodes_or_refuses(chunks: list[bytes], lines: int | None, resets: set[int]) -> object:
    def decode() -> object:
        try:
            return run(chunks, lines, resets)
        except PshctlError as refused:
            assert "bad follow header" in refused.message
            return refused

    return within_memory(decode)


@pytest.mark.parametrize(("stream", "lines"), [
    (b"D " + str(10**30).encode() + b"\n", None),  # a length no file has
    (b"D -5\nabc", 3),  # a negative one used to slice backwards
    (b"S 1:1 \xd9\xa1\n", 1),  # int() takes non-ASCII digits
    (b"B 1:1 0 " + b"9" * 19 + b" 0\n" + b"x" * 1000, 2),
    (b"S $(id) 0\n", 1),  # a file id that is sent back on resume
    (b"H" + b" " * MAX_HEADER + b"\n", 1),
])
def test_hostile_frames_found_before(stream: bytes, lines: int | None) -> None:
    result = decodes_or_refuses([stream], lines, set())
    assert isinstance(result, list) or "bad follow header" in str(result)


@BOUNDED
@given(st.lists(payloads, max_size=10), st.data())
def test_well_formed_data_frames_decode_to_their_lines(blocks: list[bytes],
                                                       data: st.DataObject) -> None:
    stream = b"S 2049:7 0\n" + b"".join(b"D %d\n" % len(b) + b + b"H\n" for b in blocks)
    events = run(chunked(stream, data), 10, set())
    got = [line for e in events if isinstance(e, LogLines) for line in e.data.split(b"\n")]
    assert got == b"".join(blocks).split(b"\n")[:-1]  # whole lines, each once, in order
