"""Reading Ollama's JSON answers (``/api/ps``, ``/api/tags``, ``/api/show``) as untrusted data.

Every field forge uses is checked for type and range here, so a truncated, ``null``, list-shaped
or otherwise wrong answer ends in one :func:`~ollama_forge.ollama.client.malformed` error that
names the endpoint and the field, never in a ``TypeError`` deep in the CLI. Fields forge does not
use are ignored (newer servers add fields).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

#: Go RFC3339Nano (fraction up to 9 digits, trailing zeros trimmed) or RFC3339 with an offset
_GO_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)
#: the longest name, digest or detail string forge keeps from an answer
MAX_TEXT = 4096


class Malformed(ValueError):
    """A field of an Ollama answer is not what a real server sends (``detail`` says which)."""


def parse_go_time(value: Any, field: str) -> datetime | None:
    """A Go ``time.Time`` JSON value; ``None`` for an absent value, Go's zero time included."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{field} is {type(value).__name__}, not a timestamp")
    match = _GO_TIME.match(value)
    if not match:
        raise Malformed(f"{field} {value[:60]!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    try:
        if zone == "Z":
            tz = timezone.utc
        else:
            from datetime import timedelta

            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        )
    except ValueError as exc:
        raise Malformed(f"{field} {value!r} is not a valid date ({exc})") from None


def as_int(value: Any, field: str, *, optional: bool = False) -> int | None:
    """A non-negative JSON integer (sizes, counts); bools and floats are refused."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{field} is {type(value).__name__}, not an integer")
    if value < 0:
        raise Malformed(f"{field} is negative ({value})")
    return value


def as_str(value: Any, field: str, *, optional: bool = True) -> str:
    """A JSON string of bounded length (``""`` for an absent optional value)."""
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{field} is {type(value).__name__}, not a string")
    if len(value) > MAX_TEXT:
        raise Malformed(f"{field} is {len(value)} characters long")
    return value


def as_dict(value: Any, field: str, *, optional: bool = True) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{field} is {type(value).__name__}, not an object")
    return value


def models_of(data: Any, endpoint: str) -> list[dict[str, Any]]:
    """The ``models`` list of ``/api/ps`` / ``/api/tags``: a list of objects."""
    if not isinstance(data, dict):
        raise Malformed(f"the answer is {type(data).__name__}, not an object")
    models = data.get("models")
    if models is None:
        return []
    if not isinstance(models, list):
        raise Malformed(f"models is {type(models).__name__}, not a list")
    for i, entry in enumerate(models):
        if not isinstance(entry, dict):
            raise Malformed(f"models[{i}] is {type(entry).__name__}, not an object")
    return models


def details_of(entry: dict[str, Any], field: str) -> dict[str, str | None]:
    """``details.family`` / ``parameter_size`` / ``quantization_level`` as strings (or None)."""
    details = as_dict(entry.get("details"), f"{field}.details")
    return {
        key: (as_str(details.get(key), f"{field}.details.{key}") or None)
        for key in ("family", "parameter_size", "quantization_level", "format")
    }
