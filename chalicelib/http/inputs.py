"""The input rules across fields and against the domain, and where each request carries the values the rules name.

chalicelib/http/contract.py parses each body once, with every field's type and bound; what is here
checks what no single field says (a time zone exists, closes after opens, `to` not before `from`,
a birth date before today, no procedure id twice), and maps the concepts the rules refuse to the
fields of each request (a rule refuses a concept, InvalidValue; the route answers on the field the
client wrote, invalid_field)."""
from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.rules import identity_keys, policies, submitted
from chalicelib.rules.errors import InvalidField, InvalidValue

# concept -> field, one mapping per request shape (the field paths of contract.py's bodies and queries).
APPLICANT_FIELDS = {"document_type": "applicant.document.type", "document_number": "applicant.document.number",
                    "birth_date": "applicant.birth_date"}
DRAW_REQUEST_FIELDS = {**APPLICANT_FIELDS, "first_day": "from", "last_day": "to", "permit_expiry": "permit_expires_on"}
# The lookup and check-in bodies carry the document at their top level.
DOCUMENT_FIELDS = {"document_type": "document.type", "document_number": "document.number", "birth_date": "birth_date"}
CHECK_IN_FIELDS = {**DOCUMENT_FIELDS, "permit_expiry": "permit_expires_on"}
IDENTITY_RELEASE_FIELDS = DOCUMENT_FIELDS
WINDOW_FIELDS = {"window_start": "from", "window_end": "to"}
SCHEDULE_FIELDS = {"first_day": "from", "last_day": "to"}
# Every paged list: its cursor is refused as a page cursor (storage/cursors.py, draws.py).
PAGE_FIELDS = {"page_cursor": "cursor"}
SEARCH_FIELDS = {**WINDOW_FIELDS, **PAGE_FIELDS}
RECORD_FIELDS = {"record_part": "part", **PAGE_FIELDS}
# The policy body is the policy: a policy field's name is both its concept and its field.
POLICY_FIELDS = {name: name for name in policies.POLICY_FIELDS}


def invalid_field(refused: InvalidValue, fields: Mapping[str, str]) -> InvalidField:
    """A rule's refusal (InvalidValue) as the route answers it, on the fields its request uses."""
    def field_of(concept: str) -> str:
        return fields.get(concept, concept)

    return InvalidField(field_of(refused.concept), refused.named(field_of))


def applicant(value: submitted.Applicant, today: date) -> submitted.Applicant:
    """A hold's or a draw request's applicant, born before today (the birth date feeds the identity key, SPEC R1)."""
    identity_keys.check_birth_date(value.birth_date, today)
    return value


def site(body: submitted.Site) -> submitted.Site:
    """POST /staff/sites: a time zone that exists, and each procedure id once."""
    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidField("timezone", "timezone must be an IANA zone such as Europe/Paris.") from exc
    seen = set()
    for i, procedure in enumerate(body.procedures):
        if procedure.procedure_id in seen:
            raise InvalidField(f"procedures[{i}].procedure_id", "Duplicate procedure_id.")
        seen.add(procedure.procedure_id)
    return body


def schedule(body: submitted.Schedule) -> submitted.Schedule:
    """POST /staff/sites/{site_id}/schedules: a period of at most a year, closing after opening."""
    if body.last_day < body.first_day or (body.last_day - body.first_day).days > 366:
        raise InvalidField("to", "to must be on or after from, within a year.")
    if body.closes <= body.opens:
        raise InvalidField("closes", "closes must be after opens.")
    return body
