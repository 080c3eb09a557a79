"""Time: the one source of "now", and the RFC 3339 forms the API speaks."""
import time
from datetime import UTC, date, datetime

_offset = 0.0


def now() -> float:
    return time.time() + _offset


def advance(seconds: float) -> None:
    """Move this process's clock forward (in-process tests only; real time is never changed)."""
    global _offset
    _offset += seconds


def reset() -> None:
    global _offset
    _offset = 0.0


def to_rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_date(epoch: float) -> date:
    """The UTC calendar day of an instant. Not `date.fromtimestamp`, which uses the process's own
    time zone: UTC on Lambda, but whatever TZ says on a laptop or a CI machine."""
    return datetime.fromtimestamp(epoch, UTC).date()


def utc_key(dt: datetime) -> str:
    """The sortable UTC string stored for appointment times (also valid RFC 3339)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: object) -> datetime:
    """An RFC 3339 date-time (offset required) or a plain date (midnight UTC) -> aware datetime."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("offset required")
    return parsed


def epoch_of(utc_string: str) -> float:
    return datetime.fromisoformat(utc_string.replace("Z", "+00:00")).timestamp()
