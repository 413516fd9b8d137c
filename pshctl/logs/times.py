"""The time a log line says it was written, and the times ``--since`` takes (pure).

Log files on the platform carry no time of their own (an app writes what it writes), but
most lines start with one, in a handful of shapes: ISO 8601 / RFC 3339 (structured
loggers, Python's logging), the platform's own ``[2026-12-01 10:00:00.123456]``
(deploy.log, cron.log), nginx's ``2026/12/01 10:00:00``, PHP's ``[01-Dec-2026 10:00:00
UTC]``, the common log format's ``[01/Dec/2026:10:00:00 +0000]`` (access logs), syslog's
``Dec  1 10:00:00``, and JSON lines with a ``time``/``timestamp``/``ts`` key. A line
with none of them has no time (:func:`line_time` gives None): pshctl then uses when it
received it, and never guesses.

A time written without a zone is taken in ``default_zone`` (UTC, the platform's clock,
unless the app sets ``timezone``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

UTC = timezone.utc
SCAN = 160  # a line's time is near its start: look no further (long lines stay cheap)

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_FRACTION = r"(?:[.,](?P<frac>\d{1,9}))?"
_ZONE = r"(?P<zone>Z|[+-]\d\d:?\d\d|\s?UTC|\s?GMT)?"
# 2026-12-01T10:00:00.123Z, 2026-12-01 10:00:00,123, [2026-12-01 10:00:00.123456]
_ISO = re.compile(r"(?P<y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)[T ](?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
                  + _FRACTION + _ZONE)
# nginx: 2026/12/01 10:00:00
_SLASHED = re.compile(r"(?P<y>\d{4})/(?P<m>\d\d)/(?P<d>\d\d) (?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
                      + _FRACTION)
# common log format: [01/Dec/2026:10:00:00 +0000]
_CLF = re.compile(r"\[(?P<d>\d\d)/(?P<mon>[A-Za-z]{3})/(?P<y>\d{4}):(?P<H>\d\d):(?P<M>\d\d):"
                  r"(?P<S>\d\d)" + _FRACTION + r"(?: (?P<zone>[+-]\d{4}))?\]")
# PHP: [01-Dec-2026 10:00:00 UTC]
_PHP = re.compile(r"\[(?P<d>\d\d)-(?P<mon>[A-Za-z]{3})-(?P<y>\d{4}) (?P<H>\d\d):(?P<M>\d\d):"
                  r"(?P<S>\d\d)" + _FRACTION + r"(?: (?P<zone>UTC|GMT|[+-]\d{4}))?")
# syslog: Dec  1 10:00:00 (no year)
_SYSLOG = re.compile(r"^(?P<mon>[A-Za-z]{3}) {1,2}(?P<d>\d{1,2}) (?P<H>\d\d):(?P<M>\d\d):"
                     r"(?P<S>\d\d)\b")
_JSON_KEY = re.compile(
    r'"(?:time|timestamp|@timestamp|ts|datetime)"\s*:\s*"(?P<value>[^"]{10,40})"')
_LEADING = re.compile(r"^[\[(<\s]*")


def line_time(line: str, default_zone: tzinfo = UTC, *,
              now: datetime | None = None) -> float | None:
    """Seconds since the epoch that ``line`` says it was written at; None when it says none.

    ``now`` (for syslog's year-less times) defaults to the present.
    """
    head = line[:SCAN]
    start = _LEADING.match(head)
    at = start.end() if start else 0
    for pattern in (_ISO, _SLASHED):
        match = pattern.match(head, at)
        if match:
            return _seconds(match, default_zone)
    for pattern in (_PHP, _CLF):
        match = pattern.search(head)
        if match:
            return _seconds(match, default_zone)
    if head.lstrip().startswith("{"):
        found = _JSON_KEY.search(line)
        if found:
            inner = _ISO.match(found["value"])
            if inner:
                return _seconds(inner, default_zone)
    match = _SYSLOG.match(head)
    if match:
        return _syslog(match, default_zone, now)
    return None


def _zone(text: str | None, default: tzinfo) -> tzinfo:
    if text is None:
        return default
    text = text.strip()
    if text in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


# Each second's time, by the text that says it (up to its seconds), its zone and the
# default zone: a log of many lines a second (a history read, a merge of several workers)
# builds each one once, and most lines cost a look-up instead of a parse.
_SECONDS: dict[tuple[str, str | None, tzinfo], float | None] = {}
_SECONDS_KEPT = 4096


def _seconds(match: re.Match[str], default_zone: tzinfo) -> float | None:
    zone = match["zone"] if "zone" in match.re.groupindex else None
    key = (match.string[match.start():match.end("S")], zone, default_zone)
    try:
        base = _SECONDS[key]
    except KeyError:
        if len(_SECONDS) >= _SECONDS_KEPT:
            _SECONDS.clear()
        parts = match.groupdict()
        base = _SECONDS[key] = _whole_seconds(
            parts["y"], parts.get("m") or parts["mon"], parts["d"], parts["H"], parts["M"],
            parts["S"], zone, default_zone)
    if base is None:
        return None
    fraction = match["frac"]
    return base + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _whole_seconds(year: str, month: str, day: str, hour: str, minute: str, second: str,
                   zone: str | None, default_zone: tzinfo) -> float | None:
    """The time to the second; None for digits that are not a time (2026-13-45)."""
    number = int(month) if month.isdigit() else _MONTHS.get(month.lower(), 0)
    try:
        moment = datetime(int(year), number, int(day), int(hour), int(minute), int(second),
                          tzinfo=_zone(zone, default_zone))
    except ValueError:
        return None
    return moment.timestamp()


def _syslog(match: re.Match[str], default_zone: tzinfo, now: datetime | None) -> float | None:
    month = _MONTHS.get(match["mon"].lower())
    if month is None:
        return None
    today = now or datetime.now(default_zone)
    for year in (today.year, today.year - 1):  # a December line read in January
        try:
            moment = datetime(year, month, int(match["d"]), int(match["H"]), int(match["M"]),
                              int(match["S"]), tzinfo=default_zone)
        except ValueError:
            return None
        if moment <= today + timedelta(days=1):
            return moment.timestamp()
    return None


# --- --since --------------------------------------------------------------------------

_AGO = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WHEN = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?"
                   r"(?:Z|[+-]\d\d:?\d\d)?")


def since(text: str, *, now: float, local: tzinfo | None = None) -> float | None:
    """``--since``: ``90s``, ``10m``, ``2h``, ``1h30m``, ``3d``, ``1w`` ago, or a time
    ``2026-12-01``, ``2026-12-01T10:00[:00][Z|+01:00]`` (in ``local``, this machine's
    zone, when it names none). None when ``text`` is neither."""
    value = text.strip()
    if value and _AGO.sub("", value) == "" and _AGO.match(value):
        total = sum(float(m["n"]) * _UNITS[m["unit"]] for m in _AGO.finditer(value))
        return now - total
    if not _WHEN.fullmatch(value):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local) if local is not None else moment.astimezone()
    return moment.timestamp()
