"""Read and follow container logs over SSH: many targets, one stream of whole lines.

:mod:`pshctl.logs.protocol` is the follow protocol and the pure handling of log bytes
(unit-tested without a server); :mod:`pshctl.logs.stream` runs it on remote containers,
merges targets and reconnects. The names below are the package's public interface.
"""

from __future__ import annotations

from pshctl.logs.protocol import (
    BAD_PATTERN_STATUS,
    DEFAULT_LINES,
    DEFAULT_TYPE,
    FOLLOW_PY,
    FOLLOW_SCRIPT,
    FOLLOW_SH,
    TAIL_SCRIPT,
    WINDOW_SCRIPT,
    FollowDecoder,
    LineAssembler,
    LogEvent,
    LogLines,
    LogNotice,
    LogRequest,
    NoticeKind,
    Window,
    follow_command,
    last_lines,
    log_path,
    parse_window,
    tail_command,
    window_command,
)
from pshctl.logs.stream import LogMissing, LogStream, read_logs

__all__ = [
    "BAD_PATTERN_STATUS",
    "DEFAULT_LINES",
    "DEFAULT_TYPE",
    "FOLLOW_PY",
    "FOLLOW_SCRIPT",
    "FOLLOW_SH",
    "TAIL_SCRIPT",
    "WINDOW_SCRIPT",
    "FollowDecoder",
    "LineAssembler",
    "LogEvent",
    "LogLines",
    "LogMissing",
    "LogNotice",
    "LogRequest",
    "LogStream",
    "NoticeKind",
    "Window",
    "follow_command",
    "last_lines",
    "log_path",
    "parse_window",
    "read_logs",
    "tail_command",
    "window_command",
]
