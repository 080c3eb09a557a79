"""The contract's field types: each parses a JSON value (or a query-string value) into the value
the code uses, refusing it as a 400 or a 422 naming the field, and describes itself as JSON Schema.

chalicelib/http/contract.py declares SPEC §5's bodies and routes with them. Standard library only:
the import stays cheap for cold starts (bench/coldstart.py --slim, see DEVELOPERS.md for the
libraries measured against it).
"""
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any, Self

from chalicelib.rules import plain_text
from chalicelib.rules.errors import InvalidField, MalformedRequest

JsonValue = Any  # a value as json.loads gives it, or a query string's text: what a schema type parses
JsonSchema = dict[str, Any]  # a JSON Schema (OpenAPI 3.1) object

# Every date and instant a client sends lies here, so that no arithmetic on it can overflow
# (datetime stops at year 9999; a window or a day list is added to what a client gives).
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2199, 12, 31)
MAX_PATH_ID = 128  # no id fairslot issues is this long; DynamoDB would refuse it as a key
MAX_BODY_BYTES = 64 * 1024

_ASCII_INT = re.compile(r"-?[0-9]{1,9}\Z")  # [0-9], not \d: '²' and other Unicode digits are refused
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?\Z")
_CLOCK = re.compile(r"[0-9]{2}:[0-9]{2}\Z")
_RANGE = f"Between {DATE_MIN} and {DATE_MAX}."


# --- schema types: each parses a JSON value (or a query string) and describes itself ------------

class Schema(ABC):
    depth = 0  # how deep a JSON value of this type nests
    example = None
    description = None

    def missing(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} is required.")

    @abstractmethod
    def parse(self, value: JsonValue, name: str) -> Any:
        """The value parsed, or InvalidField naming `name`."""

    def from_text(self, text: str, name: str) -> Any:
        """A query-string or path value (always a string) parsed as this type."""
        return self.parse(text, name)

    def checked(self, value: JsonValue, name: str) -> Any:
        """The value checked in form only (type, bounds, pattern): a body's every field is checked
        before any rule of the domain builds a value of one (`built`)."""
        return self.parse(value, name)

    def built(self, checked: Any) -> Any:
        """The value `checked` returned, as the code uses it."""
        return checked

    @abstractmethod
    def json_schema(self) -> JsonSchema:
        """This type as JSON Schema (OpenAPI 3.1)."""

    def described(self, description: str | None = None, example: JsonValue = None) -> Self:
        self.description, self.example = description, example
        return self

    def schema(self) -> JsonSchema:
        out = self.json_schema()
        if self.description:
            out["description"] = " ".join(filter(None, [self.description, out.get("description")]))
        if self.example is not None:
            out["examples"] = [self.example]
        return out


class Text(Schema):
    """A non-empty string (stripped), at most max_len long, holding only what
    rules/plain_text.py allows (no lone surrogate, control character or bidirectional override),
    matching `pattern`, and parsed by
    `convert` when given: a pure rule of chalicelib/rules/ for what a pattern cannot say, which
    returns the value in its canonical form or raises ValueError."""

    def __init__(self, max_len: int = 200, pattern: str | None = None, hint: str | None = None, convert: Callable[[str], Any] | None = None) -> None:
        self.max_len, self.pattern, self.hint, self.convert = max_len, pattern, hint, convert
        self._regex = re.compile(pattern) if pattern else None

    def missing(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} is required and must be a non-empty string.")

    def parse(self, value: JsonValue, name: str) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise self.missing(name)
        value = value.strip()
        if len(value) > self.max_len:
            raise InvalidField(name, f"{name} is longer than {self.max_len} characters.")
        refused = plain_text.refused_character(value)
        if refused is not None:
            raise InvalidField(name, f"{name} contains a character a text field may not hold ({plain_text.describe(refused)}).")
        if self._regex and not self._regex.match(value):
            raise self._refuse(name)
        if self.convert is None:
            return value
        try:
            return self.convert(value)
        except ValueError:
            raise self._refuse(name) from None

    def _refuse(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} {self.hint or 'is not valid'}.")

    def json_schema(self) -> JsonSchema:
        out = {"type": "string", "minLength": 1, "maxLength": self.max_len}
        if self.pattern:
            out["pattern"] = self.pattern
        return out


class Identifier(Schema):
    pattern = r"^[A-Za-z0-9_-]{1,64}$"

    def parse(self, value: JsonValue, name: str) -> str:
        if not isinstance(value, str) or not re.match(self.pattern, value):
            raise self.missing(name)
        return value

    def missing(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} must be an identifier (letters, digits, '_' or '-').")

    def json_schema(self) -> JsonSchema:
        return {"type": "string", "pattern": self.pattern}


class Integer(Schema):
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def _refuse(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} must be an integer between {self.low} and {self.high}.")

    missing = _refuse

    def parse(self, value: JsonValue, name: str) -> int:
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)  # JSON Schema's integer: 5.0 is 5
        if not isinstance(value, int) or isinstance(value, bool) or not self.low <= value <= self.high:
            raise self._refuse(name)
        return value

    def from_text(self, text: str, name: str) -> int:
        if not isinstance(text, str) or not _ASCII_INT.match(text.strip()):
            raise self._refuse(name)
        return self.parse(int(text), name)

    def json_schema(self) -> JsonSchema:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


class Number(Schema):
    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def parse(self, value: JsonValue, name: str) -> float:
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not numeric or not self.low <= value <= self.high:
            raise InvalidField(name, f"{name} must be a number between {self.low} and {self.high}.")
        return float(value)

    def json_schema(self) -> JsonSchema:
        return {"type": "number", "minimum": self.low, "maximum": self.high}


class Day(Schema):
    """A calendar date YYYY-MM-DD within [DATE_MIN, DATE_MAX]."""

    def _refuse(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} must be a date (YYYY-MM-DD) between {DATE_MIN} and {DATE_MAX}.")

    missing = _refuse

    def parse(self, value: JsonValue, name: str) -> date:
        try:
            if not isinstance(value, str) or not _DATE.match(value):
                raise ValueError
            parsed = date.fromisoformat(value)
        except ValueError as exc:
            raise self._refuse(name) from exc
        if not DATE_MIN <= parsed <= DATE_MAX:
            raise self._refuse(name)
        return parsed

    def json_schema(self) -> JsonSchema:
        return {"type": "string", "format": "date", "description": _RANGE}


class Instant(Schema):
    """An RFC 3339 date-time with offset, or a date (midnight UTC), within [DATE_MIN, DATE_MAX]."""

    def _refuse(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} must be an RFC 3339 date-time with offset, or a date, "
                                  f"between {DATE_MIN} and {DATE_MAX}.")

    missing = _refuse

    def parse(self, value: JsonValue, name: str) -> datetime:
        try:
            if not isinstance(value, str) or not _INSTANT.match(value):
                raise ValueError
            if len(value) == 10:
                parsed = datetime.combine(date.fromisoformat(value), time.min, UTC)
            else:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise self._refuse(name) from exc
        if not DATE_MIN <= parsed.date() <= DATE_MAX:
            raise self._refuse(name)
        return parsed

    def json_schema(self) -> JsonSchema:
        return {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}], "description": _RANGE}


class DayOf(Instant):
    """An Instant as its calendar date (a date, or an instant whose date counts)."""

    def parse(self, value: JsonValue, name: str) -> date:  # type: ignore[override]  # an Instant read as its day
        return super().parse(value, name).date()


class ClockTime(Schema):
    def parse(self, value: JsonValue, name: str) -> time:
        try:
            if not isinstance(value, str) or not _CLOCK.match(value):
                raise ValueError
            return time.fromisoformat(value)
        except ValueError as exc:
            raise self.missing(name) from exc

    def missing(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} must be a time HH:MM.")

    def json_schema(self) -> JsonSchema:
        return {"type": "string", "pattern": r"^[0-9]{2}:[0-9]{2}$", "examples": ["09:00"]}


class Choice(Schema):
    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(values)

    def parse(self, value: JsonValue, name: str) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise self.missing(name)
        return value

    def missing(self, name: str) -> InvalidField:
        return InvalidField(name, f"{name} must be one of: {', '.join(self.values)}.")

    def json_schema(self) -> JsonSchema:
        return {"type": "string", "enum": list(self.values)}


class Anything(Schema):
    """A value whose rule lives in the domain (which names the field when it refuses it);
    `described_as` is the JSON Schema the document shows for it."""

    def __init__(self, described_as: JsonSchema | None = None) -> None:
        self.described_as = described_as or {}
        self.depth = 1 if self.described_as.get("type") in ("array", "object") else 0

    def parse(self, value: JsonValue, name: str) -> JsonValue:
        return value

    def json_schema(self) -> JsonSchema:
        return dict(self.described_as)


class Obj(Schema):
    """A JSON object of named fields, parsed into `into(**fields)` (a frozen type of
    chalicelib/rules/submitted.py) or, without `into`, a dict of the fields present. `attributes`
    renames the fields whose JSON names are not Python names (`from`, `to`). Every field is
    checked before any is built: a refusal in form comes before a refusal of the domain's
    (a document number normalise_document refuses)."""

    def __init__(self, fields: dict[str, Schema], required: Iterable[str] = (), extra: bool = True, message: str | None = None,
                 into: Callable[..., Any] | None = None, attributes: dict[str, str] | None = None) -> None:
        self.fields, self.required, self.extra, self.message = fields, tuple(required), extra, message
        self.into, self.attributes = into, attributes or {}
        self.depth = 1 + max((f.depth for f in fields.values()), default=0)

    def missing(self, name: str) -> InvalidField:
        return InvalidField(name, self.message or f"{name} must be an object.")

    def parse(self, value: JsonValue, name: str = "") -> Any:
        return self.built(self.checked(value, name))

    def checked(self, value: JsonValue, name: str = "") -> dict[str, Any]:
        if not isinstance(value, dict):
            if not name:
                raise MalformedRequest("The body must be a JSON object.")
            raise self.missing(name)
        out = {}
        for key, schema in self.fields.items():
            if value.get(key) is not None:  # a JSON null is an absent field
                out[key] = schema.checked(value[key], _field_path(name, key))
            elif key in self.required:
                raise schema.missing(_field_path(name, key))
        if not self.extra:
            self._refuse_unknown_fields(value, name)
        return out

    def built(self, checked: dict[str, Any]) -> Any:
        fields = {key: self.fields[key].built(value) for key, value in checked.items()}
        if self.into is None:
            return fields
        return self.into(**{self.attributes.get(key, key): value for key, value in fields.items()})

    def _refuse_unknown_fields(self, value: dict[str, JsonValue], name: str) -> None:
        for key in value:
            if key not in self.fields:
                raise InvalidField(_field_path(name, key), f"Unknown field '{key}'.")

    def json_schema(self) -> JsonSchema:
        out: dict[str, object] = {"type": "object", "properties": {k: v.schema() for k, v in self.fields.items()}}
        if self.required:
            out["required"] = list(self.required)
        if not self.extra:
            out["additionalProperties"] = False
        return out


def _field_path(name: str, key: str) -> str:
    """Where a field sits in the body, as the error names it (`applicant.email`)."""
    return f"{name}.{key}" if name else key


class Items(Schema):
    """A JSON array of min_items to max_items items, parsed into `into` of the parsed items."""

    def __init__(self, item: Schema, min_items: int, max_items: int, message: str, into: Callable[[Iterator[Any]], Any] = tuple) -> None:
        self.item, self.min_items, self.max_items, self.message, self.into = item, min_items, max_items, message, into
        self.depth = 1 + item.depth

    def missing(self, name: str) -> InvalidField:
        return InvalidField(name, self.message)

    def parse(self, value: JsonValue, name: str) -> Any:
        return self.built(self.checked(value, name))

    def checked(self, value: JsonValue, name: str) -> list[Any]:
        if not isinstance(value, list) or not self.min_items <= len(value) <= self.max_items:
            raise self.missing(name)
        return [self.item.checked(v, f"{name}[{i}]") for i, v in enumerate(value)]

    def built(self, checked: list[Any]) -> Any:
        return self.into(self.item.built(v) for v in checked)

    def json_schema(self) -> JsonSchema:
        return {"type": "array", "items": self.item.schema(), "minItems": self.min_items, "maxItems": self.max_items}
