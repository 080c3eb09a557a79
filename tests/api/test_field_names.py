"""The rules refuse concepts (document_number, birth_date, last_day...); each route answers on the
field its own body or query string uses for it, with the message naming that field (SPEC §5)."""
from datetime import date, timedelta

import pytest

from tests.support import PROCEDURE, SITE, applicant

TODAY = date.today()


def refused_on(reply, field, message=None):
    error = reply.body["error"]
    return (reply.status == 422 and error["code"] == "invalid_field" and error["details"] == {"field": field}
            and (message is None or error["message"] == message))


def draw_site(api):
    api.create_site()
    api.set_policy(allocation="draw")
    api.schedule()
    return api


def request_body(person, **days):
    return {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": person, "from": TODAY.isoformat(),
            "to": (TODAY + timedelta(days=30)).isoformat(), **days}


@pytest.mark.parametrize("person,field,message", [
    ({**applicant(1), "document": {"type": "agdref", "number": "12"}}, "applicant.document.number",
     "Invalid agdref number (an AGDREF number has 10 digits)."),
    (applicant(1, doc_type="passport"), "applicant.document.type", "This procedure accepts only these documents: agdref."),
    (applicant(1, birth_date=(TODAY + timedelta(days=1)).isoformat()), "applicant.birth_date",
     "Birth date must be a past date (YYYY-MM-DD)."),
])
def test_the_partner_hold_body_is_answered_on_the_applicant_s_fields(api, person, field, message):
    api.ready_site()
    partner = api.create_partner()
    slot = api.partner_slots(partner)[0]["slot_id"]
    assert refused_on(api.partner_hold(partner, slot, person), field, message)


@pytest.mark.parametrize("route", ["/requests", "/partner/requests"])
def test_a_draw_request_is_answered_on_its_days_and_applicant_fields(api, route):
    draw_site(api)
    headers = api.partner_headers(api.create_partner()) if route.startswith("/partner") else None
    backwards = request_body(applicant(1), **{"from": (TODAY + timedelta(days=5)).isoformat(), "to": TODAY.isoformat()})
    assert refused_on(api.call("POST", route, backwards, headers), "to", "to must be on or after from.")
    too_far = request_body(applicant(1), to=(TODAY + timedelta(days=400)).isoformat())
    assert refused_on(api.call("POST", route, too_far, headers), "to", "to must be within the next year.")
    passport = request_body(applicant(1, doc_type="passport"))
    assert refused_on(api.call("POST", route, passport, headers), "applicant.document.type")


def test_the_lookup_body_is_answered_on_its_top_level_document(api):
    body = {"document": {"type": "agdref", "number": "12"}, "birth_date": "1990-01-02", "email": "a@example.org"}
    assert refused_on(api.call("POST", "/bookings/lookup", body), "document.number",
                      "Invalid agdref number (an AGDREF number has 10 digits).")


def test_the_check_in_body_is_answered_on_its_top_level_document(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    body = {"document": {"type": "passport", "number": "A*B"}, "birth_date": "1990-01-02"}
    reply = api.call("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, api.staff_headers(("agents",)))
    assert refused_on(reply, "document.number", "Invalid passport number (letters and digits only)."), reply


@pytest.mark.parametrize("prefix", ["", "/partner"])
def test_a_search_window_is_answered_on_from_and_to(api, prefix):
    api.ready_site()
    headers = api.partner_headers(api.create_partner()) if prefix else None
    start = (TODAY + timedelta(days=3)).isoformat()
    reply = api.call("GET", f"{prefix}/sites/{SITE}/slots?procedure={PROCEDURE}&from={start}&to={TODAY.isoformat()}",
                     headers=headers)
    assert refused_on(reply, "to", "to must be after from."), reply


def test_the_stats_window_is_answered_on_from_and_to(api):
    api.ready_site()
    reply = api.call("GET", f"/stats/{SITE}?from={TODAY.isoformat()}&to={(TODAY + timedelta(days=200)).isoformat()}")
    assert refused_on(reply, "to", "to must be after from, at most 92 days later."), reply


def test_a_schedule_too_large_is_answered_on_to(api):
    api.create_site()
    first = TODAY + timedelta(days=2)
    body = {"procedure_id": PROCEDURE, "from": first.isoformat(), "to": first.isoformat(), "opens": "08:00", "closes": "18:00",
            "slot_minutes": 5, "counters": 100, "weekdays": [0, 1, 2, 3, 4, 5, 6]}
    reply = api.call("POST", f"/staff/sites/{SITE}/schedules", body, api.staff_headers())
    assert refused_on(reply, "to", "A schedule may create at most 5000 slots at once; shorten the period."), reply


def test_a_policy_change_is_answered_on_the_policy_field(api):
    api.create_site()
    path = f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy"
    crossed = api.call("PUT", path, {"quarantine_min_seconds": 600, "quarantine_max_seconds": 60}, api.staff_headers())
    assert refused_on(crossed, "quarantine_min_seconds", "quarantine_min_seconds exceeds quarantine_max_seconds."), crossed
    unknown = api.call("PUT", path, {"accepted_documents": ["id_card"]}, api.staff_headers())
    assert refused_on(unknown, "accepted_documents"), unknown
