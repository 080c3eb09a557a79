"""The HTTP contract of SPEC §5 in one declarative table: every route's parameters, body, answer and error codes.

The bodies are declared with chalicelib/http/schema.py's field types: each route's body is parsed
once, into a frozen value of chalicelib/rules/submitted.py (each refusal a 400 or a 422 naming the
field), and every bound lives here. The same objects describe themselves as JSON Schema, from
which chalicelib/http/openapi.py builds GET /openapi.json and devlocal/web_contract.py the web
app's rules. Standard library only: the import stays cheap for cold starts.
"""
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from chalicelib.http.json_body import decode_json
from chalicelib.http.responses import (
    BOOKING,
    BOOKING_VIEW,
    CHECKED_IN,
    CLOSED,
    DAY_LIST,
    DRAW_RECORD,
    DRAW_RUN,
    DRAWS,
    EXAMPLES,
    HEALTH,
    HOLD,
    IDENTITY_PROOF,
    INSTANT_OUT,
    INTEGER,
    LOOKUP,
    NO_SHOW,
    NULLABLE_STRING,
    NUMBER,
    OPENAPI_DOCUMENT,
    PARTNER_BOOKINGS,
    PARTNER_CREATED,
    PARTNERS,
    RELEASED_VIEW,
    REQUEST,
    REQUEST_VIEW,
    SCHEDULED,
    SIGNALS,
    SITE,
    SITES,
    SLOT_PAGE,
    STATS,
    STRING,
    VERIFICATION,
    history,
    obj,
)
from chalicelib.http.schema import (
    DATE_MAX,
    DATE_MIN,
    MAX_PATH_ID,
    Anything,
    Choice,
    ClockTime,
    Day,
    DayOf,
    Identifier,
    Instant,
    Integer,
    Items,
    Number,
    Obj,
    Schema,
    Text,
)
from chalicelib.rules import email_address, identity_keys, policies, submitted

__all__ = ["DATE_MAX", "DATE_MIN", "MAX_PATH_ID", "Day", "Instant", "Integer", "decode_json",  # read through the contract too
           "INSTANT_OUT", "INTEGER", "NULLABLE_STRING", "NUMBER", "STRING", "obj"]  # to declare a new answer here

# --- the reusable pieces of SPEC §5 --------------------------------------------------------------

PHONE_PATTERN = r"^\+?[0-9 ().-]{6,20}$"
FIELD_LIMITS = {"family_name": 100, "given_names": 150, "email": email_address.MAX_ADDRESS, "phone": 20}
DAYS = {"from": "first_day", "to": "last_day"}  # the JSON names of a period, as attributes

DOCUMENT = Obj({"type": Choice(identity_keys.DOCUMENT_TYPES), "number": Text(max_len=40)}, required=("type", "number"),
               message="document must be an object with type and number.", into=identity_keys.Document.typed)
# Only addresses SES can send to: anything else would be a poison record on the bookings stream.
EMAIL = Text(FIELD_LIMITS["email"], hint="is not an address e-mail can be sent to", convert=email_address.canonical)
APPLICANT = Obj({
    "document": DOCUMENT,
    "birth_date": Day().described("Past date of birth.", "1990-01-02"),
    "family_name": Text(FIELD_LIMITS["family_name"]).described(example="Durand"),
    "given_names": Text(FIELD_LIMITS["given_names"]).described(example="Amina"),
    "email": EMAIL.described(example="amina@example.org"),
    "phone": Text(FIELD_LIMITS["phone"], PHONE_PATTERN, "is not a valid phone number"),
}, required=("document", "birth_date", "family_name", "given_names", "email"), message="applicant must be an object.",
    into=submitted.Applicant)
_APPLICANT_EXAMPLE = {"document": {"type": "agdref", "number": "1234567890"}, "birth_date": "1990-01-02",
                      "family_name": "Durand", "given_names": "Amina", "email": "amina@example.org"}
# R10: what POST /verifications/{verification_id} returned, where the procedure checks identities.
IDENTITY_TOKEN = Text(100).described("The identity_token a one-time code bought (POST /verifications/{verification_id}), "
                                     "required where the procedure's identity_check is registry or contact.")
HOLD_BODY = Obj({"slot_id": Text(64), "applicant": APPLICANT, "identity_token": IDENTITY_TOKEN}, required=("slot_id", "applicant"),
                into=submitted.Hold).described(
    example={"slot_id": EXAMPLES["slot_id"], "applicant": _APPLICANT_EXAMPLE})
CONFIRM_BODY = Obj({"hold_id": Text(64), "hold_token": Text(100)}, required=("hold_id", "hold_token"), into=submitted.Confirm).described(
    example={"hold_id": EXAMPLES["hold_id"], "hold_token": EXAMPLES["token"]})
DRAW_REQUEST_BODY = Obj({
    "site_id": Identifier(), "procedure_id": Identifier(), "applicant": APPLICANT,
    "from": DayOf().described("First day (a date, or an instant whose date counts).", "2026-03-02"),
    "to": DayOf().described("Last day.", "2026-03-20"),
    "permit_expires_on": Day(), "identity_token": IDENTITY_TOKEN,
}, required=("site_id", "procedure_id", "applicant", "from", "to"), into=submitted.DrawRequest, attributes=DAYS)
SITE_BODY = Obj({
    "site_id": Identifier(), "name": Text(200), "name_en": Text(200), "address": Text(500),
    "timezone": Text(64).described("An IANA time zone.", "Europe/Paris"),
    "procedures": Items(Obj({"procedure_id": Identifier(), "name": Text(200), "name_en": Text(200)}, required=("procedure_id", "name"),
                            message="Each procedure must be an object.", into=submitted.Procedure),
                        1, 50, "procedures must be a list of 1 to 50 {procedure_id, name}."),
}, required=("name", "address", "timezone", "procedures"), into=submitted.Site)
SCHEDULE_BODY = Obj({
    "procedure_id": Identifier(), "from": Day(), "to": Day(),
    "weekdays": Items(Integer(0, 6), 1, 7, "weekdays must be a non-empty list of integers 0 (Monday) to 6.", into=frozenset),
    "opens": ClockTime(), "closes": ClockTime(), "slot_minutes": Integer(5, 480), "counters": Integer(1, 100),
    "publish": Choice(("now", "random_window")).described(
        "When the new slots become visible (R5): `random_window` (the default) at random instants over the policy's "
        "publish_window_seconds; `now` only when asked for."),
}, required=("procedure_id", "from", "to", "opens", "closes", "slot_minutes"), into=submitted.Schedule, attributes=DAYS)
LOOKUP_BODY = Obj({"document": DOCUMENT, "birth_date": Day(), "email": EMAIL, "identity_token": IDENTITY_TOKEN},
                  required=("document", "birth_date", "email"), into=submitted.Lookup).described(
    example={"document": {"type": "agdref", "number": "1234567890"}, "birth_date": "1990-01-02", "email": "amina@example.org"})
VERIFICATION_BODY = Obj({"site_id": Identifier(), "procedure_id": Identifier(), "applicant": APPLICANT},
                        required=("site_id", "procedure_id", "applicant"), into=submitted.Verification).described(
    example={"site_id": "herault-montpellier", "procedure_id": "renewal", "applicant": _APPLICANT_EXAMPLE})
CODE_BODY = Obj({"code": Text(20).described("The 6-digit code received by e-mail.", "042137")}, required=("code",),
                into=submitted.Code)
CHECK_IN_BODY = Obj({"document": DOCUMENT, "birth_date": Day(),
                     "permit_expires_on": Day().described("The expiry read on the permit (required for a booking won as urgent).")},
                    required=("document", "birth_date"), into=submitted.CheckIn)
IDENTITY_RELEASE_BODY = Obj({"procedure_id": Identifier(), "document": DOCUMENT, "birth_date": Day(),
                             "reason": Text(500).described("Why the person is freed (kept in the audit trail)."),
                             "email": EMAIL},  # the person's mailbox: required where identity_check is contact
                            required=("procedure_id", "document", "birth_date", "reason"), into=submitted.IdentityRelease).described(
    example={"procedure_id": "renewal", "document": {"type": "agdref", "number": "1234567890"}, "birth_date": "1990-01-02",
             "reason": "At the counter with their permit: a hold in their name was not theirs."})
PARTNER_BODY = Obj({"name": Text(200), "daily_quota": Integer(1, 100_000),
                    "sites": Items(Identifier(), 1, 100, "sites must be a list of 1 to 100 site ids: the sites the key may act on.",
                                   into=lambda ids: tuple(sorted(set(ids)))).described("R11: the sites the key may act on.")},
                   required=("name", "daily_quota", "sites"),
                   into=submitted.NewPartner).described(example={"name": "Cimade Montpellier", "daily_quota": 50, "sites": ["herault"]})

def _policy_field(name: str) -> Schema:
    if name == "allocation":
        return Choice(policies.ALLOCATIONS)
    if name == "identity_check":
        return Choice(policies.IDENTITY_CHECKS)
    if name == "accepted_documents":  # policies.policy_with checks it, naming the whole list
        return Anything({"type": "array", "items": {"type": "string", "enum": list(identity_keys.DOCUMENT_TYPES)},
                         "minItems": 1, "maxItems": len(identity_keys.DOCUMENT_TYPES), "uniqueItems": True})
    limits = policies._POLICY_LIMITS.get(name)
    if limits is None:
        return Anything()  # a field whose rule is not a range: policies.policy_with checks it
    low, high = limits
    return Number(low, high) if isinstance(low, float) else Integer(low, high)


# A staff-run draw: why it runs before draw_interval_seconds (kept on the draw, published).
DRAW_RUN_BODY = Obj({"reason": Text(500).described("Why the draw runs early: published with it.")}).described(
    example={"reason": "Counter closed on Friday: draw brought forward by a day."})
POLICY_BODY = Obj({name: _policy_field(name) for name in policies.POLICY_FIELDS}, extra=False)


# --- responses: chalicelib/http/responses.py declares every field of every answer ------------------

POLICY_OUT = {"type": "object", "required": list(policies.POLICY_FIELDS),
              "properties": {name: _policy_field(name).json_schema() for name in policies.POLICY_FIELDS}}


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
    body_optional: bool = False  # no body reads as {}

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def parse_query(self, params: Mapping[str, str] | None) -> dict[str, Any]:
        """The query string's declared parameters that are present, parsed (others are dropped)."""
        params = params or {}
        parsed = {}
        for name, (schema, required) in self.query.items():
            if name in params:
                parsed[name] = schema.from_text(params[name], name)
            elif required:
                raise schema.missing(name)
        return parsed

    def parse_body(self, raw: str | bytes | None) -> Any:
        """The body parsed by the route's schema (a frozen value of chalicelib/rules/submitted.py, or
        the policy's dict of changes); None for a route that takes none."""
        if self.body is None:
            return None
        if not raw and self.body_optional:
            return self.body.parse({})
        return self.body.parse(decode_json(raw, self.body.depth))


def q(schema: Schema, required: bool = False) -> tuple[Schema, bool]:
    return schema, required


CURSOR = Text(2048).described("next_cursor of the previous page: opaque.")
SEARCH_QUERY = {"procedure": q(Identifier(), True), "from": q(Instant()), "to": q(Instant()),
                "limit": q(Integer(1, 100)), "cursor": q(CURSOR)}
HOLD_TOKEN = {"X-Hold-Token": "The hold_token the hold was created with."}
BOOKING_TOKEN = {"X-Booking-Token": "The booking_token the booking was created with."}
REQUEST_TOKEN = {"X-Request-Token": "The request_token the request was filed with."}
NO_CONTENT = None

OPERATIONS = [
    Operation("GET", "/health", "Liveness", response=HEALTH),
    Operation("GET", "/openapi.json", "This document (OpenAPI 3.1)", response=OPENAPI_DOCUMENT),
    Operation("GET", "/sites", "Sites and their procedures", response=SITES),
    Operation("GET", "/sites/{site_id}/slots", "Bookable slots, paginated", query=SEARCH_QUERY, response=SLOT_PAGE,
              errors=("site_not_found", "procedure_not_found")),
    Operation("POST", "/verifications", "Ask for a one-time code proving an identity (202 whether or not it can be proven)",
              status=202, body=VERIFICATION_BODY, response=VERIFICATION,
              errors=("site_not_found", "procedure_not_found", "verification_not_needed", "rate_limited", "registry_unavailable",
                      "state_changed")),
    Operation("POST", "/verifications/{verification_id}", "Send the code received: an identity token", status=201, body=CODE_BODY,
              response=IDENTITY_PROOF,
              errors=("verification_not_found", "verification_expired", "verification_locked", "code_invalid", "state_changed")),
    Operation("POST", "/holds", "Hold a slot for an applicant", status=201, body=HOLD_BODY, response=HOLD,
              errors=("slot_not_found", "draw_only", "slot_unavailable", "hold_already_active", "booking_already_active",
                      "cooldown", "rate_limited", "state_changed", "identity_unverified", "registry_unavailable")),
    Operation("DELETE", "/holds/{hold_id}", "Release a hold", status=204, headers=HOLD_TOKEN,
              errors=("hold_not_found", "bad_hold_token", "hold_not_active", "hold_expired", "state_changed")),
    Operation("POST", "/bookings", "Confirm a hold (repeating it returns the same booking)", status=201, also_status=(200,),
              body=CONFIRM_BODY, response=BOOKING,
              errors=("hold_not_found", "bad_hold_token", "hold_expired", "hold_not_active", "booking_already_active", "slot_started",
                      "state_changed")),
    Operation("POST", "/bookings/lookup", "Find my booking: its link is sent again to the e-mail on file (202 either way)",
              status=202, body=LOOKUP_BODY, response=LOOKUP, errors=("rate_limited", "identity_unverified")),
    Operation("GET", "/bookings/{booking_id}", "A booking", headers=BOOKING_TOKEN, response=BOOKING_VIEW,
              errors=("bad_booking_token", "booking_not_found")),
    Operation("DELETE", "/bookings/{booking_id}", "Cancel a booking", status=204, headers=BOOKING_TOKEN,
              errors=("bad_booking_token", "booking_not_found", "booking_not_active", "state_changed")),
    Operation("POST", "/requests", "File a draw request", status=201, body=DRAW_REQUEST_BODY, response=REQUEST,
              errors=("site_not_found", "procedure_not_found", "not_draw", "slots_available", "request_already_active",
                      "booking_already_active", "cooldown", "rate_limited", "state_changed", "identity_unverified")),
    Operation("GET", "/requests/{request_id}", "A draw request", headers=REQUEST_TOKEN, response=REQUEST_VIEW,
              errors=("request_not_found", "bad_request_token")),
    Operation("DELETE", "/requests/{request_id}", "Withdraw a draw request", status=204, headers=REQUEST_TOKEN,
              errors=("request_not_found", "bad_request_token", "request_not_live", "state_changed")),
    Operation("GET", "/sites/{site_id}/procedures/{procedure_id}/draws", "Draws of a procedure (commitments and results), paginated",
              query={"limit": q(Integer(1, 50)), "cursor": q(CURSOR)},
              response=DRAWS,
              errors=("site_not_found", "procedure_not_found", "state_changed")),
    Operation("GET", "/sites/{site_id}/procedures/{procedure_id}/draws/{draw_id}/record",
              "One page of a recorded draw's entrants, slots or allocation, to replay it",
              query={"part": q(Choice(("entrants", "slots", "allocation"))), "cursor": q(CURSOR)},
              response=DRAW_RECORD,
              errors=("site_not_found", "procedure_not_found", "draw_not_found")),
    Operation("GET", "/stats/{site_id}", "Public transparency figures", query={"from": q(Instant()), "to": q(Instant())},
              response=STATS,
              errors=("site_not_found",)),
    # partners
    Operation("GET", "/partner/sites/{site_id}/slots", "Bookable slots, with the partner share", auth=PARTNER_KEY,
              query=SEARCH_QUERY, response=SLOT_PAGE, errors=("site_not_found", "procedure_not_found", "forbidden_site")),
    Operation("POST", "/partner/holds", "Hold a slot for an applicant", auth=PARTNER_KEY, status=201, body=HOLD_BODY,
              response=HOLD, errors=("slot_not_found", "draw_only", "slot_unavailable", "hold_already_active",
                                     "booking_already_active", "cooldown", "rate_limited", "partner_quota_exceeded",
                                     "forbidden_site", "state_changed", "registry_mismatch", "registry_unavailable")),
    Operation("POST", "/partner/bookings", "Confirm a partner's hold", auth=PARTNER_KEY, status=201, also_status=(200,),
              body=CONFIRM_BODY, response=BOOKING,
              errors=("hold_not_found", "bad_hold_token", "not_this_partner", "hold_expired", "hold_not_active", "booking_already_active",
                      "slot_started", "state_changed")),
    Operation("GET", "/partner/bookings", "The partner's bookings, paginated", auth=PARTNER_KEY,
              query={"limit": q(Integer(1, 100)), "cursor": q(CURSOR)},
              response=PARTNER_BOOKINGS),
    Operation("DELETE", "/partner/bookings/{booking_id}", "Cancel a partner's booking", auth=PARTNER_KEY, status=204,
              errors=("booking_not_found", "booking_not_active", "state_changed")),
    Operation("POST", "/partner/requests", "File a draw request for an applicant", auth=PARTNER_KEY, status=201,
              body=DRAW_REQUEST_BODY, response=REQUEST,
              errors=("site_not_found", "procedure_not_found", "not_draw", "slots_available", "request_already_active",
                      "booking_already_active", "cooldown", "rate_limited", "partner_quota_exceeded", "forbidden_site",
                      "state_changed", "registry_mismatch", "registry_unavailable")),
    # staff
    Operation("POST", "/staff/sites", "Create a site", auth=ADMIN, status=201, body=SITE_BODY, response=SITE,
              errors=("site_exists",)),
    Operation("GET", "/staff/sites/{site_id}/procedures/{procedure_id}/policy", "A procedure's policy", auth=AGENT,
              response=POLICY_OUT, errors=("site_not_found", "procedure_not_found")),
    Operation("PUT", "/staff/sites/{site_id}/procedures/{procedure_id}/policy", "Change a procedure's policy", auth=ADMIN,
              body=POLICY_BODY, response=POLICY_OUT, errors=("site_not_found", "procedure_not_found", "state_changed")),
    Operation("POST", "/staff/sites/{site_id}/schedules", "Publish an opening schedule as slots", auth=ADMIN, status=201,
              body=SCHEDULE_BODY, response=SCHEDULED,
              errors=("site_not_found", "procedure_not_found", "state_changed")),
    Operation("GET", "/staff/sites/{site_id}/history", "A site's audit trail", auth=AGENT, response=history("site_id"),
              errors=("site_not_found",)),
    Operation("POST", "/staff/sites/{site_id}/procedures/{procedure_id}/draws",
              "Run a draw now (sooner than draw_interval_seconds after the previous one only with a reason, published)", auth=ADMIN,
              body=DRAW_RUN_BODY, body_optional=True, response=DRAW_RUN,
              errors=("site_not_found", "procedure_not_found", "not_draw", "draw_running", "draw_exists", "draw_too_soon",
                      "state_changed")),
    Operation("GET", "/staff/sites/{site_id}/bookings", "The day list of a site", auth=AGENT, query={"date": q(Day())},
              response=DAY_LIST, errors=("site_not_found",)),
    Operation("POST", "/staff/partners", "Register a partner (its API key is shown once)", auth=ADMIN, status=201,
              body=PARTNER_BODY, response=PARTNER_CREATED,
              errors=("partner_exists", "site_not_found")),
    Operation("GET", "/staff/partners", "Partners", auth=ADMIN, response=PARTNERS),
    Operation("DELETE", "/staff/partners/{partner_id}", "Revoke a partner's key", auth=ADMIN, status=204,
              errors=("partner_not_found", "partner_revoked", "state_changed")),
    Operation("POST", "/staff/bookings/{booking_id}/check-in", "Check an applicant in at the counter", auth=AGENT,
              body=CHECK_IN_BODY, response=CHECKED_IN,
              errors=("booking_not_found", "booking_not_active", "appointment_not_started", "state_changed")),
    Operation("POST", "/staff/sites/{site_id}/identities/release",
              "Free a person present at the counter: end what was done in their name, lift their cooldown", auth=AGENT,
              body=IDENTITY_RELEASE_BODY, response=RELEASED_VIEW,
              errors=("site_not_found", "procedure_not_found", "state_changed")),
    Operation("POST", "/staff/bookings/{booking_id}/no-show", "Mark a booking as a no-show", auth=AGENT,
              response=NO_SHOW,
              errors=("booking_not_found", "booking_not_active", "appointment_not_started", "state_changed")),
    Operation("POST", "/staff/slots/{slot_id}/close", "Close a slot", auth=AGENT,
              response=CLOSED,
              errors=("slot_not_found", "slot_not_closable", "state_changed")),
    Operation("GET", "/staff/signals", "Fraud signals (R9) for review", auth=AGENT,
              query={"date": q(Day()), "days": q(Integer(1, 31))},
              response=SIGNALS),
    Operation("GET", "/staff/partners/{partner_id}/history", "A partner's audit trail", auth=ADMIN, response=history("entity_id"),
              errors=("partner_not_found",)),
    Operation("GET", "/staff/slots/{slot_id}/history", "A slot's audit trail", auth=AGENT, response=history("slot_id"),
              errors=("slot_not_found",)),
    Operation("GET", "/staff/bookings/{booking_id}/history", "A booking's audit trail", auth=AGENT, response=history("booking_id"),
              errors=("booking_not_found",)),
]

_BY_ROUTE = {(op.method, op.path): op for op in OPERATIONS}


def operation(method: str, path: str) -> "Operation | None":
    return _BY_ROUTE.get((method, path))


def codes_of(op: Operation) -> set[str]:
    """Every error code `op` can answer: its own, and those every route of its kind answers."""
    codes = set(op.errors) | {"storage_unavailable"}
    if op.body is not None:
        codes |= {"malformed_request", "invalid_field"}
    if op.method in ("POST", "PUT"):
        codes.add("unsupported_media_type")  # a body of a type the route does not take (handlers/routing.py ACCEPTED_TYPES)
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
