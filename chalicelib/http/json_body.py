"""A request body as JSON: decoded once, finite numbers only, its depth bounded (400 malformed_request otherwise)."""
import json
import math
from typing import NoReturn

from chalicelib.http.schema import MAX_BODY_BYTES, JsonValue
from chalicelib.rules.errors import MalformedRequest


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as inf
        raise ValueError("number out of range")
    return value


def decode_json(raw: str | bytes | None, max_depth: int) -> dict[str, JsonValue]:
    """The body as a JSON object nested no deeper than its schema, or 400 (NaN, Infinity, a number
    out of range, a body too large or too deep)."""
    if not raw:
        raise MalformedRequest("A JSON body is required.")
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedRequest(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedRequest("The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise MalformedRequest("The body must be a JSON object.")
    if _depth(body) > max_depth:
        raise MalformedRequest(f"The body nests deeper than {max_depth} levels.")
    return body


def _depth(value: JsonValue) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest
