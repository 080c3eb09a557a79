"""The HTTP contract of SPEC §5 in one declarative table: every route's parameters, body, answer and error codes.

The same objects parse requests (each refusal a 400 or a 422 naming the field) and describe
themselves as JSON Schema, from which chalicelib/http/openapi.py builds GET /openapi.json. Standard
library only: the import stays cheap for cold starts (bench/coldstart.py --slim, see
DEVELOPERS.md for the libraries measured against it).
"""
import json
import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, time, timezone

from chalicelib.rules import identity_keys, policies
from chalicelib.rules.errors import InvalidField, MalformedRequest

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

    def missing(self, name):
        return InvalidField(name, f"{name} is required.")

    @abstractmethod
    def parse(self, value, name):
        """The value parsed, or InvalidField naming `name`."""

    def from_text(self, text, name):
        """A query-string or path value (always a string) parsed as this type."""
        return self.parse(text, name)

    @abstractmethod
    def json_schema(self):
        """This type as JSON Schema (OpenAPI 3.1)."""

    def described(self, description=None, example=None):
        self.description, self.example = description, example
        return self

    def schema(self):
        out = self.json_schema()
        if self.description:
            out["description"] = " ".join(filter(None, [self.description, out.get("description")]))
        if self.example is not None:
            out["examples"] = [self.example]
        return out


class Text(Schema):
    """A non-empty string (stripped), at most max_len long, matching `pattern` and passing `check`
    (a pure rule from chalicelib.domain, for what a pattern cannot say)."""

    def __init__(self, max_len=200, pattern=None, hint=None, check=None):
        self.max_len, self.pattern, self.hint, self.check = max_len, pattern, hint, check
        self._regex = re.compile(pattern) if pattern else None

    def missing(self, name):
        return InvalidField(name, f"{name} is required and must be a non-empty string.")

    def parse(self, value, name):
        if not isinstance(value, str) or not value.strip():
            raise self.missing(name)
        value = value.strip()
        if len(value) > self.max_len:
            raise InvalidField(name, f"{name} is longer than {self.max_len} characters.")
        if (self._regex and not self._regex.match(value)) or (self.check and not self.check(value)):
            raise InvalidField(name, f"{name} {self.hint or 'is not valid'}.")
        return value

    def json_schema(self):
        out = {"type": "string", "minLength": 1, "maxLength": self.max_len}
        if self.pattern:
            out["pattern"] = self.pattern
        return out


class Identifier(Schema):
    pattern = r"^[A-Za-z0-9_-]{1,64}$"

    def parse(self, value, name):
        if not isinstance(value, str) or not re.match(self.pattern, value):
            raise self.missing(name)
        return value

    def missing(self, name):
        return InvalidField(name, f"{name} must be an identifier (letters, digits, '_' or '-').")

    def json_schema(self):
        return {"type": "string", "pattern": self.pattern}


class Integer(Schema):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def _refuse(self, name):
        return InvalidField(name, f"{name} must be an integer between {self.low} and {self.high}.")

    missing = _refuse

    def parse(self, value, name):
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)  # JSON Schema's integer: 5.0 is 5
        if not isinstance(value, int) or isinstance(value, bool) or not self.low <= value <= self.high:
            raise self._refuse(name)
        return value

    def from_text(self, text, name):
        if not isinstance(text, str) or not _ASCII_INT.match(text.strip()):
            raise self._refuse(name)
        return self.parse(int(text), name)

    def json_schema(self):
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


class Number(Schema):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def parse(self, value, name):
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not numeric or not self.low <= value <= self.high:
            raise InvalidField(name, f"{name} must be a number between {self.low} and {self.high}.")
        return float(value)

    def json_schema(self):
        return {"type": "number", "minimum": self.low, "maximum": self.high}


class Day(Schema):
    """A calendar date YYYY-MM-DD within [DATE_MIN, DATE_MAX]."""

    def _refuse(self, name):
        return InvalidField(name, f"{name} must be a date (YYYY-MM-DD) between {DATE_MIN} and {DATE_MAX}.")

    missing = _refuse

    def parse(self, value, name):
        try:
            if not isinstance(value, str) or not _DATE.match(value):
                raise ValueError
            parsed = date.fromisoformat(value)
        except ValueError:
            raise self._refuse(name)
        if not DATE_MIN <= parsed <= DATE_MAX:
            raise self._refuse(name)
        return parsed

    def json_schema(self):
        return {"type": "string", "format": "date", "description": _RANGE}


class Instant(Schema):
    """An RFC 3339 date-time with offset, or a date (midnight UTC), within [DATE_MIN, DATE_MAX]."""

    def _refuse(self, name):
        return InvalidField(name, f"{name} must be an RFC 3339 date-time with offset, or a date, "
                                  f"between {DATE_MIN} and {DATE_MAX}.")

    missing = _refuse

    def parse(self, value, name):
        try:
            if not isinstance(value, str) or not _INSTANT.match(value):
                raise ValueError
            if len(value) == 10:
                parsed = datetime.combine(date.fromisoformat(value), time.min, timezone.utc)
            else:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise self._refuse(name)
        if not DATE_MIN <= parsed.date() <= DATE_MAX:
            raise self._refuse(name)
        return parsed

    def json_schema(self):
        return {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}], "description": _RANGE}


class ClockTime(Schema):
    def parse(self, value, name):
        try:
            if not isinstance(value, str) or not _CLOCK.match(value):
                raise ValueError
            return time.fromisoformat(value)
        except ValueError:
            raise self.missing(name)

    def missing(self, name):
        return InvalidField(name, f"{name} must be a time HH:MM.")

    def json_schema(self):
        return {"type": "string", "pattern": r"^[0-9]{2}:[0-9]{2}$", "examples": ["09:00"]}


class Choice(Schema):
    def __init__(self, values):
        self.values = tuple(values)

    def parse(self, value, name):
        if not isinstance(value, str) or value not in self.values:
            raise self.missing(name)
        return value

    def missing(self, name):
        return InvalidField(name, f"{name} must be one of: {', '.join(self.values)}.")

    def json_schema(self):
        return {"type": "string", "enum": list(self.values)}


class Anything(Schema):
    """A value whose rule lives in the domain (which names the field when it refuses it);
    `described_as` is the JSON Schema the document shows for it."""

    def __init__(self, described_as=None):
        self.described_as = described_as or {}
        self.depth = 1 if self.described_as.get("type") in ("array", "object") else 0

    def parse(self, value, name):
        return value

    def json_schema(self):
        return dict(self.described_as)


class Obj(Schema):
    def __init__(self, fields, required=(), extra=True, message=None):
        self.fields, self.required, self.extra, self.message = fields, tuple(required), extra, message
        self.depth = 1 + max((f.depth for f in fields.values()), default=0)

    def missing(self, name):
        return InvalidField(name, self.message or f"{name} must be an object.")

    def parse(self, value, name=""):
        if not isinstance(value, dict):
            if not name:
                raise MalformedRequest("The body must be a JSON object.")
            raise self.missing(name)
        out = {}
        for key, schema in self.fields.items():
            if value.get(key) is not None:  # a JSON null is an absent field
                out[key] = schema.parse(value[key], _field_path(name, key))
            elif key in self.required:
                raise schema.missing(_field_path(name, key))
        if not self.extra:
            self._refuse_unknown_fields(value, name)
        return out

    def _refuse_unknown_fields(self, value, name):
        for key in value:
            if key not in self.fields:
                raise InvalidField(_field_path(name, key), f"Unknown field '{key}'.")

    def json_schema(self):
        out: dict[str, object] = {"type": "object", "properties": {k: v.schema() for k, v in self.fields.items()}}
        if self.required:
            out["required"] = list(self.required)
        if not self.extra:
            out["additionalProperties"] = False
        return out


def _field_path(name, key):
    """Where a field sits in the body, as the error names it (`applicant.email`)."""
    return f"{name}.{key}" if name else key


class Items(Schema):
    def __init__(self, item, min_items, max_items, message):
        self.item, self.min_items, self.max_items, self.message = item, min_items, max_items, message
        self.depth = 1 + item.depth

    def missing(self, name):
        return InvalidField(name, self.message)

    def parse(self, value, name):
        if not isinstance(value, list) or not self.min_items <= len(value) <= self.max_items:
            raise self.missing(name)
        return [self.item.parse(v, f"{name}[{i}]") for i, v in enumerate(value)]

    def json_schema(self):
        return {"type": "array", "items": self.item.schema(), "minItems": self.min_items, "maxItems": self.max_items}


# --- JSON bodies --------------------------------------------------------------------------------

def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as inf
        raise ValueError("number out of range")
    return value


def decode_json(raw, max_depth):
    """The body as a JSON object nested no deeper than its schema, or 400 (NaN, Infinity, a number
    out of range, a body too large or too deep)."""
    if not raw:
        raise MalformedRequest("A JSON body is required.")
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedRequest(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedRequest("The body is not valid JSON.")
    if not isinstance(body, dict):
        raise MalformedRequest("The body must be a JSON object.")
    if _depth(body) > max_depth:
        raise MalformedRequest(f"The body nests deeper than {max_depth} levels.")
    return body


def _depth(value):
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


# --- the reusable pieces of SPEC §5 --------------------------------------------------------------

EMAIL_PATTERN = r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
PHONE_PATTERN = r"^\+?[0-9 ().-]{6,20}$"
FIELD_LIMITS = {"family_name": 100, "given_names": 150, "email": 254, "phone": 20}

def _sendable(address):
    from chalicelib.rules import email_address  # the rule SES imposes (pure)

    try:
        email_address.canonical(address)
    except ValueError:
        return False
    return True


DOCUMENT = Obj({"type": Choice(identity_keys.DOCUMENT_TYPES), "number": Text(max_len=40)}, required=("type", "number"),
               message="document must be an object with type and number.")
APPLICANT = Obj({
    "document": DOCUMENT,
    "birth_date": Day().described("Past date of birth.", "1990-01-02"),
    "family_name": Text(FIELD_LIMITS["family_name"]).described(example="Durand"),
    "given_names": Text(FIELD_LIMITS["given_names"]).described(example="Amina"),
    "email": Text(FIELD_LIMITS["email"], hint="is not an address e-mail can be sent to", check=_sendable).described(
        example="amina@example.org"),
    "phone": Text(FIELD_LIMITS["phone"], PHONE_PATTERN, "is not a valid phone number"),
}, required=("document", "birth_date", "family_name", "given_names", "email"), message="applicant must be an object.")
_APPLICANT_EXAMPLE = {"document": {"type": "agdref", "number": "1234567890"}, "birth_date": "1990-01-02",
                      "family_name": "Durand", "given_names": "Amina", "email": "amina@example.org"}
HOLD_BODY = Obj({"slot_id": Text(64), "applicant": APPLICANT}, required=("slot_id", "applicant")).described(
    example={"slot_id": "slt_4f1c2a9e", "applicant": _APPLICANT_EXAMPLE})
CONFIRM_BODY = Obj({"hold_id": Text(64), "hold_token": Text(100)}, required=("hold_id", "hold_token")).described(
    example={"hold_id": "hld_8d2e", "hold_token": "the hold_token POST /holds returned"})
DRAW_REQUEST_BODY = Obj({
    "site_id": Identifier(), "procedure_id": Identifier(), "applicant": APPLICANT,
    "from": Instant().described("First day (a date, or an instant whose date counts).", "2026-03-02"),
    "to": Instant().described("Last day.", "2026-03-20"),
    "permit_expires_on": Day(),
}, required=("site_id", "procedure_id", "applicant", "from", "to"))
SITE_BODY = Obj({
    "site_id": Identifier(), "name": Text(200), "address": Text(500), "timezone": Text(64).described(example="Europe/Paris"),
    "procedures": Items(Obj({"procedure_id": Identifier(), "name": Text(200)}, required=("procedure_id", "name"),
                            message="Each procedure must be an object."),
                        1, 50, "procedures must be a list of 1 to 50 {procedure_id, name}."),
}, required=("name", "address", "timezone", "procedures"))
SCHEDULE_BODY = Obj({
    "procedure_id": Identifier(), "from": Day(), "to": Day(),
    "weekdays": Items(Integer(0, 6), 1, 7, "weekdays must be a non-empty list of integers 0 (Monday) to 6."),
    "opens": ClockTime(), "closes": ClockTime(), "slot_minutes": Integer(5, 480), "counters": Integer(1, 100),
    "publish": Choice(("now", "random_window")),
}, required=("procedure_id", "from", "to", "opens", "closes", "slot_minutes"))
LOOKUP_BODY = Obj({"document": DOCUMENT, "birth_date": Day(), "email": APPLICANT.fields["email"]},
                  required=("document", "birth_date", "email")).described(
    example={"document": {"type": "agdref", "number": "1234567890"}, "birth_date": "1990-01-02", "email": "amina@example.org"})
CHECK_IN_BODY = Obj({"document": DOCUMENT, "birth_date": Day(),
                     "permit_expires_on": Day().described("The expiry read on the permit (required for a booking won as urgent).")},
                    required=("document", "birth_date"))
PARTNER_BODY = Obj({"name": Text(200), "daily_quota": Integer(1, 100_000)}, required=("name", "daily_quota")).described(
    example={"name": "Cimade Montpellier", "daily_quota": 50})


def _policy_field(name):
    if name == "allocation":
        return Choice(policies.ALLOCATIONS)
    if name == "accepted_documents":  # policies.policy_with checks it, naming the whole list
        return Anything({"type": "array", "items": {"type": "string", "enum": list(identity_keys.DOCUMENT_TYPES)},
                         "minItems": 1, "maxItems": len(identity_keys.DOCUMENT_TYPES), "uniqueItems": True})
    limits = policies._POLICY_LIMITS.get(name)
    if limits is None:
        return Anything()  # a field whose rule is not a range: policies.policy_with checks it
    low, high = limits
    return Number(low, high) if isinstance(low, float) else Integer(low, high)


POLICY_BODY = Obj({name: _policy_field(name) for name in policies.POLICY_FIELDS}, extra=False)


# --- responses (JSON Schema; loose on purpose: fields may be added, never removed) -------------

def obj(required=(), **properties):
    return {"type": "object", "required": list(required), "properties": properties}


STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
NULLABLE_STRING = {"type": ["string", "null"]}
INSTANT_OUT = {"type": "string", "format": "date-time"}
SLOT = obj(("slot_id", "site_id", "procedure_id", "starts_at", "ends_at"), slot_id=STRING, site_id=STRING,
           procedure_id=STRING, starts_at=INSTANT_OUT, ends_at=INSTANT_OUT)
SLOT_PAGE = obj(("slots", "next_cursor"), slots={"type": "array", "items": SLOT}, next_cursor=NULLABLE_STRING)
HOLD = obj(("hold_id", "hold_token", "expires_at", "slot"), hold_id=STRING, hold_token=STRING, expires_at=INSTANT_OUT, slot=SLOT)
BOOKING = obj(("booking_id", "reference", "status", "slot"), booking_id=STRING, booking_token=STRING, reference=STRING,
              status=STRING, slot=SLOT, applicant=obj(("family_name", "given_names"), family_name=STRING, given_names=STRING))
REQUEST = obj(("request_id", "status"), request_id=STRING, request_token=STRING, status=STRING, hold=HOLD)
SITE = obj(("site_id", "name", "address", "timezone", "procedures"), site_id=STRING, name=STRING, address=STRING,
           timezone=STRING, procedures={"type": "array", "items": obj(("procedure_id", "name"), procedure_id=STRING, name=STRING,
                                                                        allocation=STRING)})
HISTORY = obj(("history",), history={"type": "array", "items": obj(("at", "action"), at=INSTANT_OUT, action=STRING)})
PARTNER = obj(("partner_id", "name", "daily_quota", "status"), partner_id=STRING, name=STRING, daily_quota=INTEGER, status=STRING)
POLICY_OUT = {"type": "object", "required": list(policies.POLICY_FIELDS),
              "properties": {name: _policy_field(name).json_schema() for name in policies.POLICY_FIELDS}}
DAY_BOOKING = obj(("booking_id", "slot_id", "starts_at", "reference", "status", "family_name", "given_names"),
                  booking_id=STRING, slot_id=STRING, starts_at=INSTANT_OUT, reference=STRING, status=STRING,
                  family_name=STRING, given_names=STRING, partner_id=STRING)


# --- the operations -----------------------------------------------------------------------------

PUBLIC, PARTNER_KEY, AGENT, ADMIN = "public", "partner", "agent", "admin"


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    auth: str = PUBLIC
    status: int = 200
    response: dict | None = None
    body: Obj | None = None
    query: dict = dc_field(default_factory=dict)
    headers: dict = dc_field(default_factory=dict)
    errors: tuple = ()  # codes this route answers besides the ones every route of its kind does
    also_status: tuple = ()  # another success status (an idempotent repeat answers 200)

    @property
    def path_params(self):
        return re.findall(r"{(\w+)}", self.path)

    def parse_query(self, params):
        """The query string's declared parameters that are present, parsed (others are dropped)."""
        params = params or {}
        parsed = {}
        for name, (schema, required) in self.query.items():
            if name in params:
                parsed[name] = schema.from_text(params[name], name)
            elif required:
                raise schema.missing(name)
        return parsed

    def parse_body(self, raw):
        """The body, checked against the route's; None for a route that takes none."""
        if self.body is None:
            return None
        body = decode_json(raw, self.body.depth)
        self.body.parse(body)
        return body


def q(schema, required=False):
    return schema, required


CURSOR = Text(2048).described("next_cursor of the previous page: opaque.")
SEARCH_QUERY = {"procedure": q(Identifier(), True), "from": q(Instant()), "to": q(Instant()),
                "limit": q(Integer(1, 100)), "cursor": q(CURSOR)}
HOLD_TOKEN = {"X-Hold-Token": "The hold_token the hold was created with."}
BOOKING_TOKEN = {"X-Booking-Token": "The booking_token the booking was created with."}
REQUEST_TOKEN = {"X-Request-Token": "The request_token the request was filed with."}
NO_CONTENT = None

OPERATIONS = [
    Operation("GET", "/health", "Liveness", response=obj(("status", "time"), status=STRING, time=INSTANT_OUT)),
    Operation("GET", "/openapi.json", "This document (OpenAPI 3.1)", response={"type": "object"}),
    Operation("GET", "/sites", "Sites and their procedures", response=obj(("sites",), sites={"type": "array", "items": SITE})),
    Operation("GET", "/sites/{site_id}/slots", "Bookable slots, paginated", query=SEARCH_QUERY, response=SLOT_PAGE,
              errors=("site_not_found", "procedure_not_found")),
    Operation("POST", "/holds", "Hold a slot for an applicant", status=201, body=HOLD_BODY, response=HOLD,
              errors=("slot_not_found", "draw_only", "slot_unavailable", "hold_already_active", "booking_already_active",
                      "cooldown", "rate_limited", "state_changed")),
    Operation("DELETE", "/holds/{hold_id}", "Release a hold", status=204, headers=HOLD_TOKEN,
              errors=("hold_not_found", "bad_hold_token", "hold_not_active", "hold_expired", "state_changed")),
    Operation("POST", "/bookings", "Confirm a hold (repeating it returns the same booking)", status=201, also_status=(200,),
              body=CONFIRM_BODY, response=BOOKING,
              errors=("hold_not_found", "bad_hold_token", "hold_expired", "hold_not_active", "booking_already_active", "slot_started",
                      "state_changed")),
    Operation("POST", "/bookings/lookup", "Find my booking: its link is sent again to the e-mail on file (202 either way)",
              status=202, body=LOOKUP_BODY, response=obj(("status",), status=STRING), errors=("rate_limited",)),
    Operation("GET", "/bookings/{booking_id}", "A booking", headers=BOOKING_TOKEN, response=BOOKING,
              errors=("bad_booking_token", "booking_not_found")),
    Operation("DELETE", "/bookings/{booking_id}", "Cancel a booking", status=204, headers=BOOKING_TOKEN,
              errors=("bad_booking_token", "booking_not_found", "booking_not_active", "state_changed")),
    Operation("POST", "/requests", "File a draw request", status=201, body=DRAW_REQUEST_BODY, response=REQUEST,
              errors=("site_not_found", "procedure_not_found", "not_draw", "slots_available", "request_already_active",
                      "booking_already_active", "cooldown", "rate_limited", "state_changed")),
    Operation("GET", "/requests/{request_id}", "A draw request", headers=REQUEST_TOKEN, response=REQUEST,
              errors=("request_not_found", "bad_request_token")),
    Operation("DELETE", "/requests/{request_id}", "Withdraw a draw request", status=204, headers=REQUEST_TOKEN,
              errors=("request_not_found", "bad_request_token", "request_not_live", "state_changed")),
    Operation("GET", "/sites/{site_id}/procedures/{procedure_id}/draws", "Draws of a procedure (commitments and results), paginated",
              query={"limit": q(Integer(1, 50)), "cursor": q(CURSOR)},
              response=obj(("draws", "next_cursor"), next_cursor=NULLABLE_STRING,
                           draws={"type": "array", "items": obj(("draw_id", "status"), draw_id=STRING, status=STRING)}),
              errors=("site_not_found", "procedure_not_found", "state_changed")),
    Operation("GET", "/sites/{site_id}/procedures/{procedure_id}/draws/{draw_id}/record",
              "One page of a recorded draw's entrants, slots or allocation, to replay it",
              query={"part": q(Choice(("entrants", "slots", "allocation"))), "cursor": q(CURSOR)},
              response=obj(("draw_id", "part", "items", "next_cursor"), draw_id=STRING, part=STRING,
                           items={"type": "array"}, next_cursor=NULLABLE_STRING),
              errors=("site_not_found", "procedure_not_found", "draw_not_found")),
    Operation("GET", "/stats/{site_id}", "Public transparency figures", query={"from": q(Instant()), "to": q(Instant())},
              response=obj(("site_id", "from", "to", "procedures"), site_id=STRING, procedures={"type": "object"},
                           draws={"type": "object"}),
              errors=("site_not_found",)),
    # partners
    Operation("GET", "/partner/sites/{site_id}/slots", "Bookable slots, with the partner share", auth=PARTNER_KEY,
              query=SEARCH_QUERY, response=SLOT_PAGE, errors=("site_not_found", "procedure_not_found")),
    Operation("POST", "/partner/holds", "Hold a slot for an applicant", auth=PARTNER_KEY, status=201, body=HOLD_BODY,
              response=HOLD, errors=("slot_not_found", "draw_only", "slot_unavailable", "hold_already_active",
                                     "booking_already_active", "cooldown", "rate_limited", "partner_quota_exceeded",
                                     "state_changed")),
    Operation("POST", "/partner/bookings", "Confirm a partner's hold", auth=PARTNER_KEY, status=201, also_status=(200,),
              body=CONFIRM_BODY, response=BOOKING,
              errors=("hold_not_found", "bad_hold_token", "not_this_partner", "hold_expired", "hold_not_active", "booking_already_active",
                      "slot_started", "state_changed")),
    Operation("GET", "/partner/bookings", "The partner's bookings, paginated", auth=PARTNER_KEY,
              query={"limit": q(Integer(1, 100)), "cursor": q(CURSOR)},
              response=obj(("bookings", "next_cursor"), bookings={"type": "array", "items": BOOKING}, next_cursor=NULLABLE_STRING)),
    Operation("DELETE", "/partner/bookings/{booking_id}", "Cancel a partner's booking", auth=PARTNER_KEY, status=204,
              errors=("booking_not_found", "booking_not_active", "state_changed")),
    Operation("POST", "/partner/requests", "File a draw request for an applicant", auth=PARTNER_KEY, status=201,
              body=DRAW_REQUEST_BODY, response=REQUEST,
              errors=("site_not_found", "procedure_not_found", "not_draw", "slots_available", "request_already_active",
                      "booking_already_active", "cooldown", "rate_limited", "state_changed")),
    # staff
    Operation("POST", "/staff/sites", "Create a site", auth=ADMIN, status=201, body=SITE_BODY, response=SITE,
              errors=("site_exists",)),
    Operation("GET", "/staff/sites/{site_id}/procedures/{procedure_id}/policy", "A procedure's policy", auth=AGENT,
              response=POLICY_OUT, errors=("site_not_found", "procedure_not_found")),
    Operation("PUT", "/staff/sites/{site_id}/procedures/{procedure_id}/policy", "Change a procedure's policy", auth=ADMIN,
              body=POLICY_BODY, response=POLICY_OUT, errors=("site_not_found", "procedure_not_found", "state_changed")),
    Operation("POST", "/staff/sites/{site_id}/schedules", "Publish an opening schedule as slots", auth=ADMIN, status=201,
              body=SCHEDULE_BODY, response=obj(("created",), created=INTEGER, existing=INTEGER),
              errors=("site_not_found", "procedure_not_found", "state_changed")),
    Operation("GET", "/staff/sites/{site_id}/history", "A site's audit trail", auth=AGENT, response=HISTORY,
              errors=("site_not_found",)),
    Operation("POST", "/staff/sites/{site_id}/procedures/{procedure_id}/draws", "Run a draw now", auth=ADMIN,
              response={"type": "object"},
              errors=("site_not_found", "procedure_not_found", "not_draw", "draw_running", "draw_exists", "state_changed")),
    Operation("GET", "/staff/sites/{site_id}/bookings", "The day list of a site", auth=AGENT, query={"date": q(Day())},
              response=obj(("bookings",), bookings={"type": "array", "items": DAY_BOOKING}), errors=("site_not_found",)),
    Operation("POST", "/staff/partners", "Register a partner (its API key is shown once)", auth=ADMIN, status=201,
              body=PARTNER_BODY, response=obj(("partner_id", "api_key"), partner_id=STRING, api_key=STRING),
              errors=("partner_exists",)),
    Operation("GET", "/staff/partners", "Partners", auth=ADMIN, response=obj(("partners",), partners={"type": "array", "items": PARTNER})),
    Operation("DELETE", "/staff/partners/{partner_id}", "Revoke a partner's key", auth=ADMIN, status=204,
              errors=("partner_not_found", "partner_revoked", "state_changed")),
    Operation("POST", "/staff/bookings/{booking_id}/check-in", "Check an applicant in at the counter", auth=AGENT,
              body=CHECK_IN_BODY, response=obj(("match", "status"), match={"type": "boolean"}, status=STRING),
              errors=("booking_not_found", "booking_not_active", "appointment_not_started", "state_changed")),
    Operation("POST", "/staff/bookings/{booking_id}/no-show", "Mark a booking as a no-show", auth=AGENT,
              response=obj(("booking_id", "status"), booking_id=STRING, status=STRING),
              errors=("booking_not_found", "booking_not_active", "appointment_not_started", "state_changed")),
    Operation("POST", "/staff/slots/{slot_id}/close", "Close a slot", auth=AGENT,
              response=obj(("slot_id", "state"), slot_id=STRING, state=STRING),
              errors=("slot_not_found", "slot_not_closable", "state_changed")),
    Operation("GET", "/staff/signals", "Fraud signals (R9) for review", auth=AGENT,
              query={"date": q(Day()), "days": q(Integer(1, 31))},
              response=obj(("from", "to", "signals"), signals={"type": "object"})),
    Operation("GET", "/staff/partners/{partner_id}/history", "A partner's audit trail", auth=ADMIN, response=HISTORY,
              errors=("partner_not_found",)),
    Operation("GET", "/staff/slots/{slot_id}/history", "A slot's audit trail", auth=AGENT, response=HISTORY,
              errors=("slot_not_found",)),
    Operation("GET", "/staff/bookings/{booking_id}/history", "A booking's audit trail", auth=AGENT, response=HISTORY,
              errors=("booking_not_found",)),
]

_BY_ROUTE = {(op.method, op.path): op for op in OPERATIONS}


def operation(method, path):
    return _BY_ROUTE.get((method, path))


def codes_of(op):
    """Every error code `op` can answer: its own, and those every route of its kind answers."""
    codes = set(op.errors) | {"storage_unavailable"}
    if op.body is not None:
        codes |= {"malformed_request", "invalid_field"}
    if op.query:
        codes.add("invalid_field")
    if op.path_params:
        codes.add("not_found")
    if op.auth != PUBLIC:
        codes |= {"unauthorized", "unavailable"}
    if op.auth in (AGENT, ADMIN):
        codes.add("forbidden")
    if op.auth == PARTNER_KEY:
        codes |= {"quota_exceeded", "rate_limited"}  # API Gateway's usage plan (infra/resources.yaml)
    return codes
