"""What every route answers, as JSON Schema (OpenAPI 3.1): each field any response carries, declared once.

chalicelib/http/contract.py names one of these as each Operation's `response`. The document served
leaves objects open (a client ignores a field it does not know: fields may be added, never
removed), but tests/contract_check.py validates every answer of the API suite with each object
closed (`additionalProperties: false`): a field the code sends and this module does not declare
fails the suite. A map keyed by ids (figures per procedure) states its values with
`additionalProperties`. Examples carry ids of the shapes the code mints (tests/unit/test_contract.py).
"""
from typing import Any

from chalicelib.rules import identity_keys, lifecycle, policies

JsonSchema = dict[str, Any]

# Ids as the code mints them: platform/tokens.py new_id(kind) ("hold_" + 24 hex digits...),
# lifecycle.slot_id, usecases/draw_terms.py's draw ids, tokens.new_reference; tokens are 256 bits
# in URL-safe base64. Ids are opaque to clients: the document shows these shapes as examples only.
EXAMPLES = {
    "slot_id": "slot_2c549db69bdf9b67278b7046",
    "hold_id": "hold_f1f290d502c1bb7422f2682d",
    "booking_id": "bkg_51625bb7994a1ea83f38b808",
    "request_id": "req_aa29eae77b2a4cd18ee5ca95",
    "partner_id": "ptn_4d398cbebfac25eb43421036",
    "draw_id": "001772441400000-ebf368ca",
    "site_id": "prefecture-herault",
    "procedure_id": "renewal",
    "reference": "FS-ZBSM-2VJH",
    "token": "cWLPgW44_lxe10mXo3K6q9gZeCm4gIKn1q9wMSiFqh0",
    "api_key": "fsk_hYeMc05I9iMl6IIL-0guyRkwoG8qKTvvk-7uVnKhxXw",
    "verification_id": "vrf_0c2f6d1e9a7b4c3d5e6f7a8b",
}


def obj(required: tuple[str, ...] | list[str] = (), **properties: JsonSchema) -> JsonSchema:
    """An object with these properties, `required` among them (the others: present only sometimes)."""
    return {"type": "object", "required": list(required), "properties": properties}


def every(**properties: JsonSchema) -> JsonSchema:
    """An object whose properties are all always present."""
    return obj(tuple(properties), **properties)


def array(items: JsonSchema) -> JsonSchema:
    return {"type": "array", "items": items}


def map_of(values: JsonSchema, description: str) -> JsonSchema:
    """An object keyed by ids (a procedure's, ...), each value `values`."""
    return {"type": "object", "additionalProperties": values, "description": description}


def ident(kind: str, description: str | None = None) -> JsonSchema:
    """An id (or token) of this kind, with an example of the shape the code mints."""
    out: JsonSchema = {"type": "string", "examples": [EXAMPLES[kind]]}
    if description:
        out["description"] = description
    return out


def choice(*values: str) -> JsonSchema:
    return {"type": "string", "enum": list(values)}


def nullable(schema: JsonSchema) -> JsonSchema:
    return {**schema, "type": [schema["type"], "null"]}


STRING, INTEGER, NUMBER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
NULLABLE_STRING = {"type": ["string", "null"]}
INSTANT_OUT = {"type": "string", "format": "date-time"}
DAY_OUT = {"type": "string", "format": "date"}
CURSOR_OUT = {"type": ["string", "null"], "description": "The cursor of the next page (opaque), null on the last page."}
TOKEN = ident("token", "A bearer token (256 bits), shown once: keep it.")
DOCUMENT_TYPE = choice(*identity_keys.DOCUMENT_TYPES)
BOOKING_STATUS = choice(lifecycle.BOOKED, "cancelled", lifecycle.ATTENDED, lifecycle.REFUSED, lifecycle.NO_SHOW, lifecycle.CLOSED)
REQUEST_STATUS = choice("waiting", "offered", "booked", "withdrawn", "expired")
DRAW_STATUS = choice("committed", "running", "allocating", "run")

# --- public ------------------------------------------------------------------------------------

HEALTH = every(status=choice("ok"), time=INSTANT_OUT)
_OPEN = {"type": "object", "additionalProperties": True}
OPENAPI_DOCUMENT = obj(("openapi", "info", "paths", "components"), openapi=STRING, info=_OPEN, tags=array(_OPEN), paths=_OPEN,
               components=_OPEN)

PROCEDURE = obj(("procedure_id", "name", "allocation", "accepted_documents", "cooldown_seconds"),
                procedure_id=ident("procedure_id"), name=STRING, name_en=STRING, allocation=choice(*policies.ALLOCATIONS),
                accepted_documents={**array(DOCUMENT_TYPE), "description": "The documents a hold or request may name (R1)."},
                cooldown_seconds={**INTEGER, "description": "How long a cancellation or a hold let go keeps the identity "
                                                            "from holding again (R4)."},
                identity_check={**choice("registry", "contact", "none"),
                                "description": "How an identity is proven before a hold, request or look-up (R10)."})
SITE = obj(("site_id", "name", "address", "timezone", "procedures"), site_id=ident("site_id"), name=STRING, name_en=STRING,
           address=STRING, timezone=STRING, procedures=array(PROCEDURE))
SITES = every(sites=array(SITE), personal_data_retention_days={
    **INTEGER, "description": "How long personal data is kept after the appointment."})

SLOT = every(slot_id=ident("slot_id"), site_id=ident("site_id"), procedure_id=ident("procedure_id"), starts_at=INSTANT_OUT,
             ends_at=INSTANT_OUT)
STANDBY = every(request={**STRING, "description": "Where to file a standby request.", "examples": ["POST /requests"]},
                draw_interval_seconds={**INTEGER, "description": "How often standby requests are drawn."})
SLOT_PAGE = obj(("slots", "next_cursor"), slots=array(SLOT), next_cursor=CURSOR_OUT, standby={
    **STANDBY, "description": "auto allocation, nothing found: the standby list is open (R6)."})

HOLD = every(hold_id=ident("hold_id"), hold_token=TOKEN, expires_at=INSTANT_OUT, slot=SLOT)
_BOOKED_APPLICANT = every(family_name=STRING, given_names=STRING)
BOOKING_VIEW = every(booking_id=ident("booking_id"), reference=ident("reference"), status=BOOKING_STATUS, slot=SLOT,
                applicant=every(family_name=STRING, given_names=STRING, document_type={
                    **DOCUMENT_TYPE, "description": "The document to bring to the counter."}))
# A confirmation also carries the booking's token (GET /bookings/{booking_id} never shows it again).
BOOKING = {**BOOKING_VIEW, "required": [*BOOKING_VIEW["required"], "booking_token"],
           "properties": {**BOOKING_VIEW["properties"], "booking_token": TOKEN}}
LOOKUP = every(status=choice("accepted"))

REQUEST = every(request_id=ident("request_id"), request_token=TOKEN, status=REQUEST_STATUS)
REQUEST_VIEW = obj(("request_id", "status", "site_id", "procedure_id", "from", "to", "permit_expires_on"),
              request_id=ident("request_id"), status=REQUEST_STATUS, site_id=ident("site_id"), procedure_id=ident("procedure_id"),
              permit_expires_on=nullable(DAY_OUT), booking_id=ident("booking_id", "Once booked."),
              hold={**every(hold_id=ident("hold_id"), hold_token=ident("token", "The offer's hold token."), expires_at=INSTANT_OUT,
                            slot=SLOT),
                    "description": "While offered: the hold to confirm with POST /bookings."},
              **{"from": DAY_OUT, "to": DAY_OUT})

_RECORD_PAGES = every(entrants=INTEGER, slots=INTEGER, allocation=INTEGER)
DRAW = obj(("draw_id", "status", "seed_hash", "committed_at"), draw_id=ident("draw_id"), status=DRAW_STATUS,
           seed_hash={**STRING, "description": "SHA-256 of the seed, published before the draw."}, committed_at=INSTANT_OUT,
           run_at=INSTANT_OUT, seed=STRING, entrants=INTEGER, slots=INTEGER, allocated=INTEGER, record_pages=_RECORD_PAGES,
           offered=INTEGER, skipped=INTEGER, odds=nullable(NUMBER),
           entrants_hash={**STRING, "description": "SHA-256 of the entrants' lines, fixed when the draw ran (docs/draws.md)."},
           run_by=choice("staff", "schedule"),
           early_reason={**STRING, "description": "Why staff ran it sooner than draw_interval_seconds (published)."})
DRAWS = every(draws=array(DRAW), next_cursor=CURSOR_OUT)
_ENTRANT = obj(("request_id", "tier", "first_day", "last_day", "excluded_slots"), request_id=ident("request_id"), tier=INTEGER,
               first_day=DAY_OUT, last_day=DAY_OUT, excluded_slots=array(ident("slot_id")), partner=BOOLEAN,
               entrant_tag={**STRING, "description": "HMAC of the entrant's identity for this draw: its ticket's name (docs/draws.md)."})
_POOL_SLOT = obj(("slot_id", "day"), slot_id=ident("slot_id"), day=DAY_OUT, reserved=BOOLEAN)
_ALLOCATED = {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2,
              "description": "[request_id, slot_id]: the request and the slot it was given.",
              "examples": [[EXAMPLES["request_id"], EXAMPLES["slot_id"]]]}
DRAW_RECORD = every(draw_id=ident("draw_id"), part=choice("entrants", "slots", "allocation"),
                    items={"type": "array", "items": {"anyOf": [_ENTRANT, _POOL_SLOT, _ALLOCATED]},
                           "description": "entrants, slots, or [request_id, slot_id] pairs, as lottery.allocate read them."},
                    next_cursor=CURSOR_OUT)

# The counters of GET /stats (storage/figures.py FIGURE_NAMES: tests/unit/test_contract.py keeps them equal).
FIGURE_NAMES = ("published", "booked", "cancelled", "quarantined", "freed_late", "attended", "refused", "no_show", "closed")
_RUN_DRAW = every(draw_id=ident("draw_id"), run_at=INSTANT_OUT, entrants=INTEGER, slots=INTEGER, offered=INTEGER,
                  odds=nullable(NUMBER))
STATS = every(site_id=ident("site_id"), procedures=map_of(every(**{name: INTEGER for name in FIGURE_NAMES}), "By procedure id."),
              draws=map_of(array(_RUN_DRAW), "The draws run, by procedure id."), **{"from": DAY_OUT, "to": DAY_OUT})

# --- partners ----------------------------------------------------------------------------------

PARTNER_BOOKINGS = every(bookings=array(every(booking_id=ident("booking_id"), reference=ident("reference"), status=BOOKING_STATUS,
                                              slot=SLOT, applicant=_BOOKED_APPLICANT)),
                         next_cursor=CURSOR_OUT)

# --- staff -------------------------------------------------------------------------------------

SCHEDULED = every(created={**INTEGER, "description": "Slots created now."},
                  existing={**INTEGER, "description": "Slots of the schedule that existed already."})
_AUDIT_DETAILS = obj(
    (), hold_id=nullable(ident("hold_id")), slot_id=ident("slot_id"), booking_id=nullable(ident("booking_id")),
    reference=ident("reference"), request_id=nullable(ident("request_id")), draw_id=ident("draw_id"),
    reason={**STRING, "description": "identity_mismatch or false_urgency at check-in; staff's own words for a person freed "
                                     "at the counter or a draw run early."},
    person=STRING, cooldown_lifted=BOOLEAN, early_reason=nullable(STRING), sites=array(ident("site_id")),
    permit_expires_on=nullable(DAY_OUT), previous_state=STRING,
    daily_quota=INTEGER, name=STRING, timezone=STRING, procedures=array(ident("procedure_id")), procedure_id=ident("procedure_id"),
    changes=map_of(every(old={}, new={}), "By policy field: its old and new value."),
    period=every(**{"from": DAY_OUT, "to": DAY_OUT}), publish=choice("now", "random_window"), slots=INTEGER, reserved=INTEGER,
    visible_from=nullable(INSTANT_OUT), visible_until=nullable(INSTANT_OUT),
)
_ENTRY = every(entity_id=STRING, at=INSTANT_OUT, action=STRING,
               actor=nullable({**STRING, "description": "staff:<subject>, partner:<id>, or an applicant's pseudonym."}),
               client_ip=NULLABLE_STRING, details=_AUDIT_DETAILS)


def history(of: str) -> JsonSchema:
    """An entity's audit trail, under the name of its id (`entity_id` for a partner's)."""
    return every(**{of: ident(of) if of in EXAMPLES else STRING}, history=array(_ENTRY))


DRAW_RUN = every(draw_id=ident("draw_id"), entrants=INTEGER, slots=INTEGER, offered=INTEGER, skipped=INTEGER, resumed=BOOLEAN,
                 status=choice("allocating", "run"), remaining={**INTEGER, "description": "Offers left for the next run."})
DAY_LIST = every(bookings=array(obj(
    ("booking_id", "slot_id", "procedure_id", "starts_at", "reference", "status", "family_name", "given_names", "tier",
     "permit_expires_on"),
    booking_id=ident("booking_id"), slot_id=ident("slot_id"), procedure_id=ident("procedure_id"), starts_at=INSTANT_OUT,
    reference=ident("reference"), status=BOOKING_STATUS, family_name=STRING, given_names=STRING,
    tier={"type": ["integer", "null"], "description": "Won in a draw: its tier (1 urgent)."}, permit_expires_on=nullable(DAY_OUT),
    partner_id=ident("partner_id"), slot_state=choice(lifecycle.FREED_LATE))))
_PARTNER_FIELDS = {"name": STRING, "daily_quota": INTEGER, "created_at": INSTANT_OUT, "status": choice("active", "revoked"),
                   "revoked_at": INSTANT_OUT}
_PARTNER_FIELDS["sites"] = {**array(ident("site_id")), "description": "The sites the key may act on (R11)."}
PARTNER = obj(("partner_id", "name", "daily_quota", "sites", "created_at", "status"), partner_id=ident("partner_id"), **_PARTNER_FIELDS)
PARTNER_CREATED = obj(("partner_id", "api_key", "name", "daily_quota", "sites", "created_at", "status"), partner_id=ident("partner_id"),
                      api_key=ident("api_key", "Shown once, stored hashed."), **_PARTNER_FIELDS)
PARTNERS = every(partners=array(PARTNER))
CHECKED_IN = every(booking_id=ident("booking_id"), match=BOOLEAN, false_urgency=BOOLEAN,
                   status=choice(lifecycle.ATTENDED, lifecycle.REFUSED))
NO_SHOW = every(booking_id=ident("booking_id"), status=choice(lifecycle.NO_SHOW))
CLOSED = obj(("slot_id", "state"), slot_id=ident("slot_id"), state=choice(lifecycle.CLOSED), booking_id=ident("booking_id"),
             booking_status=choice(lifecycle.CLOSED))
_AT_THE_COUNTER = obj(("booking_id",), booking_id=ident("booking_id"), site_id=ident("site_id"), slot_id=ident("slot_id"),
                      partner_id=nullable(ident("partner_id")), staff=STRING, draw_day=NULLABLE_STRING,
                      declared_permit_expires_on=NULLABLE_STRING, read_permit_expires_on=STRING)
SIGNALS = every(signals=every(
    identities_per_ip=array(every(client_ip=STRING, identities=INTEGER, holds=INTEGER, requests=INTEGER)),
    cooldown_refusals=INTEGER,
    checkin_mismatches=array(_AT_THE_COUNTER),
    false_urgency=array(_AT_THE_COUNTER),
    disposable_email_domains=array(every(domain=STRING, holds=INTEGER, requests=INTEGER)),
    partner_cancellations=array(every(partner_id=ident("partner_id"), booked=INTEGER, cancelled=INTEGER, rate=NUMBER)),
    identities_released=array(obj((), subject=STRING, site_id=ident("site_id"), staff=STRING, person=STRING,
                                  procedure_id=ident("procedure_id"), reason=STRING, cooldown_lifted=BOOLEAN,
                                  request_id=nullable(ident("request_id")), hold_id=nullable(ident("hold_id")),
                                  booking_id=nullable(ident("booking_id")))),
    partners=array(every(partner_id=ident("partner_id"), identities=INTEGER, holds=INTEGER, requests=INTEGER, urgent=INTEGER,
                         booked=INTEGER, cancelled=INTEGER, lapsed=INTEGER)),
    one_person_several_documents=array(every(person=STRING, documents=INTEGER)),
), **{"from": DAY_OUT, "to": DAY_OUT})

RELEASED_VIEW = every(released=every(
    person=STRING, procedure_id=ident("procedure_id"), reason=STRING, cooldown_lifted=BOOLEAN,
    request_id=nullable(ident("request_id")), hold_id=nullable(ident("hold_id")), booking_id=nullable(ident("booking_id"))))
VERIFICATION = every(verification_id=ident("verification_id"), expires_at=INSTANT_OUT)
IDENTITY_PROOF = every(identity_token=TOKEN, expires_at=INSTANT_OUT,
                       destination={**STRING, "description": "Where the code went, masked (a***@example.org)."})
