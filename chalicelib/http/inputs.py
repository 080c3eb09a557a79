"""Parsing of client input into checked values; every problem becomes a 400 or a 422 naming the field.

The field rules (types, bounds, patterns) are chalicelib/http/contract.py's, which also checks each
route's body before its handler runs; what is here turns checked JSON into domain values, and
says where each request carries the values the rules name (a rule refuses a concept, InvalidValue;
the route answers on the field the client wrote, invalid_field)."""
import re
from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.http import contract
from chalicelib.rules import email_address, identity_keys, policies
from chalicelib.rules.errors import InvalidField

_PHONE = re.compile(contract.PHONE_PATTERN)

# concept -> field, one mapping per request shape (the field paths of contract.py's bodies and queries).
APPLICANT_FIELDS = {"document_type": "applicant.document.type", "document_number": "applicant.document.number",
                    "birth_date": "applicant.birth_date"}
DRAW_REQUEST_FIELDS = {**APPLICANT_FIELDS, "first_day": "from", "last_day": "to", "permit_expiry": "permit_expires_on"}
# The lookup and check-in bodies carry the document at their top level.
DOCUMENT_FIELDS = {"document_type": "document.type", "document_number": "document.number", "birth_date": "birth_date"}
CHECK_IN_FIELDS = {**DOCUMENT_FIELDS, "permit_expiry": "permit_expires_on"}
WINDOW_FIELDS = {"window_start": "from", "window_end": "to"}
SCHEDULE_FIELDS = {"first_day": "from", "last_day": "to"}
# Every paged list: its cursor is refused as a page cursor (storage/cursors.py, draws.py).
PAGE_FIELDS = {"page_cursor": "cursor"}
SEARCH_FIELDS = {**WINDOW_FIELDS, **PAGE_FIELDS}
RECORD_FIELDS = {"record_part": "part", **PAGE_FIELDS}
# The policy body is the policy: a policy field's name is both its concept and its field.
POLICY_FIELDS = {name: name for name in policies.POLICY_FIELDS}


def invalid_field(refused, fields):
    """A rule's refusal (InvalidValue) as the route answers it, on the fields its request uses."""
    def field_of(concept):
        return fields.get(concept, concept)

    return InvalidField(field_of(refused.concept), refused.named(field_of))


def json_body(request, max_depth=8):
    """The request body as a JSON object, or 400 (for a route without a contract)."""
    return contract.decode_json(request.raw_body, max_depth)


def text(body, field, prefix="", max_len=200, required=True):
    value = body.get(field)
    name = prefix + field
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(name, f"{name} is required and must be a non-empty string.")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidField(name, f"{name} is longer than {max_len} characters.")
    return value


def identifier(value, field):
    return contract.Identifier().parse(value, field)


def iso_date(value, field):
    if isinstance(value, date):  # already parsed by the route's contract
        return value
    # ASCII digits only ([0-9] in the contract): a birth date feeds the identity key.
    return contract.Day().parse(value, field)


def instant(value, field):
    if isinstance(value, datetime):  # already parsed by the route's contract
        return value
    return contract.Instant().parse(value, field)


def clock_time(value, field):
    return contract.ClockTime().parse(value, field)


def integer(value, field, low, high):
    rule = contract.Integer(low, high)
    return rule.from_text(value, field) if isinstance(value, str) else rule.parse(value, field)


@dataclass(frozen=True)
class ApplicantInput:
    document_type: str
    document_number: str  # normalised; used only to compute the identity key, never stored
    birth_date: date
    family_name: str
    given_names: str
    email: str
    phone: str | None

    def public_fields(self):
        return {
            "document_type": self.document_type,
            "family_name": self.family_name,
            "given_names": self.given_names,
            "email": self.email,
            "phone": self.phone,
        }


def document(value, prefix):
    if not isinstance(value, dict):
        raise InvalidField(prefix + "document", "document must be an object with type and number.")
    doc_type = value.get("type")
    number = value.get("number")
    return doc_type, identity_keys.normalise_document(doc_type, number)


def applicant(body, today):
    value = body.get("applicant")
    if not isinstance(value, dict):
        raise InvalidField("applicant", "applicant must be an object.")
    doc_type, number = document(value.get("document"), "applicant.")
    birth = identity_keys.check_birth_date(iso_date(value.get("birth_date"), "applicant.birth_date"), today)
    try:  # only addresses SES can send to: anything else would be a poison stream record
        email = email_address.canonical(text(value, "email", "applicant.", 254))
    except ValueError as exc:
        raise InvalidField("applicant.email", f"applicant.email {exc}.")
    phone = text(value, "phone", "applicant.", 20, required=False)
    if phone is not None and not _PHONE.match(phone):
        raise InvalidField("applicant.phone", "applicant.phone is not a valid phone number.")
    return ApplicantInput(
        document_type=doc_type,
        document_number=number,
        birth_date=birth,
        family_name=text(value, "family_name", "applicant.", 100),
        given_names=text(value, "given_names", "applicant.", 150),
        email=email,
        phone=phone,
    )


def site(body):
    """POST /staff/sites: a site and its procedures."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    site_id = body.get("site_id")
    if site_id is not None:
        identifier(site_id, "site_id")
    tz = text(body, "timezone", max_len=64)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidField("timezone", "timezone must be an IANA zone such as Europe/Paris.")
    procedures = body.get("procedures")
    if not isinstance(procedures, list) or not 1 <= len(procedures) <= 50:
        raise InvalidField("procedures", "procedures must be a list of 1 to 50 {procedure_id, name}.")
    parsed, seen = [], set()
    for i, p in enumerate(procedures):
        if not isinstance(p, dict):
            raise InvalidField(f"procedures[{i}]", "Each procedure must be an object.")
        pid = identifier(p.get("procedure_id"), f"procedures[{i}].procedure_id")
        if pid in seen:
            raise InvalidField(f"procedures[{i}].procedure_id", "Duplicate procedure_id.")
        seen.add(pid)
        name_en = text(p, "name_en", f"procedures[{i}].", 200, required=False)
        parsed.append({"procedure_id": pid, "name": text(p, "name", f"procedures[{i}].", 200),
                       **({"name_en": name_en} if name_en else {})})
    return {
        "site_id": site_id,
        "name": text(body, "name"),
        "name_en": text(body, "name_en", required=False),
        "address": text(body, "address", max_len=500),
        "timezone": tz,
        "procedures": parsed,
    }


def schedule(body):
    """POST /staff/sites/{site_id}/schedules: an opening schedule to turn into slots."""
    spec = {
        "procedure_id": identifier(body.get("procedure_id"), "procedure_id"),
        "from": iso_date(body.get("from"), "from"),
        "to": iso_date(body.get("to"), "to"),
        "opens": clock_time(body.get("opens"), "opens"),
        "closes": clock_time(body.get("closes"), "closes"),
        "slot_minutes": integer(body.get("slot_minutes"), "slot_minutes", 5, 480),
        "counters": integer(body.get("counters", 1), "counters", 1, 100),
        "publish": body.get("publish", "now"),
    }
    spec["weekdays"] = _weekdays(body.get("weekdays", [0, 1, 2, 3, 4]))
    if spec["to"] < spec["from"] or (spec["to"] - spec["from"]).days > 366:
        raise InvalidField("to", "to must be on or after from, within a year.")
    if spec["closes"] <= spec["opens"]:
        raise InvalidField("closes", "closes must be after opens.")
    if spec["publish"] not in ("now", "random_window"):
        raise InvalidField("publish", "publish must be 'now' or 'random_window'.")
    return spec


def _weekdays(value):
    """The days of the week a schedule opens on, as a set of 0 (Monday) to 6."""
    if not isinstance(value, list) or not value or not all(_is_weekday(d) for d in value):
        raise InvalidField("weekdays", "weekdays must be a non-empty list of integers 0 (Monday) to 6.")
    return set(value)


def _is_weekday(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6


def day(value, field):
    """A date given as YYYY-MM-DD or as an RFC 3339 instant (its calendar date)."""
    if isinstance(value, str) and len(value) == 10:
        return iso_date(value, field)
    return instant(value, field).date()


def draw_request(body, today):
    """POST /requests: who, where, which procedure, which days, and the permit's expiry."""
    permit = body.get("permit_expires_on")
    return {
        "site_id": identifier(body.get("site_id"), "site_id"),
        "procedure_id": identifier(body.get("procedure_id"), "procedure_id"),
        "applicant": applicant(body, today),
        "first_day": day(body.get("from"), "from"),
        "last_day": day(body.get("to"), "to"),
        "permit_expires_on": iso_date(permit, "permit_expires_on") if permit is not None else None,
    }


def booking_lookup(body):
    """POST /bookings/lookup: the document, birth date and e-mail a booking was made with."""
    doc_type, number = document(body.get("document"), "")
    try:  # the same form as stored at booking time (chalicelib/rules/email_address.py)
        email = email_address.canonical(text(body, "email", max_len=254))
    except ValueError as exc:
        raise InvalidField("email", f"email {exc}.")
    return {"document_type": doc_type, "document_number": number,
            "birth_date": iso_date(body.get("birth_date"), "birth_date"), "email": email}


def check_in(body):
    """POST /staff/bookings/{id}/check-in: the document shown at the counter, the birth date, and
    the expiry read on the permit (required by staff.check_in for a booking won as urgent)."""
    doc_type, number = document(body.get("document"), "")
    permit = body.get("permit_expires_on")
    return (doc_type, number, iso_date(body.get("birth_date"), "birth_date"),
            iso_date(permit, "permit_expires_on") if permit is not None else None)
