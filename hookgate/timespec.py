"""Times on the command line: an ISO 8601 moment, or a duration meaning "that long ago"."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DURATION = re.compile(r"(\d+)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TimeSpecError(ValueError):
    """A time argument that is neither an ISO 8601 moment nor a duration."""


def parse_ms(text: str, now_ms: int) -> int:
    """Epoch milliseconds of ``text``: ``2026-11-30T10:00:00Z`` (no zone means UTC), or ``90m``,
    ``2h``, ``1d`` before ``now_ms``."""
    text = text.strip()
    duration = _DURATION.fullmatch(text)
    if duration:
        return now_ms - int(duration.group(1)) * _SECONDS[duration.group(2)] * 1000
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeSpecError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-30T10:00:00Z) or a duration "
            "ago (90m, 2h, 1d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
