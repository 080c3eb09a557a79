"""R7 at the counter: a booking won in the urgent tier of a draw is checked against the expiry the
agent reads on the permit; a false urgency refuses the appointment and is a signal (R9)."""
from datetime import date, timedelta

import pytest

from chalicelib.usecases import staff
from tests.support import PROCEDURE, SITE, applicant

AGENT = ("agents",)
TODAY = date.today()
URGENT = (TODAY + timedelta(days=30)).isoformat()  # within the 60-day tier of today's draw
NOT_URGENT = (TODAY + timedelta(days=300)).isoformat()
APPOINTMENT_DAY = (TODAY + timedelta(days=2)).isoformat()  # api.schedule()'s day


@pytest.fixture
def metrics(monkeypatch):
    seen = []
    monkeypatch.setattr(staff, "metric", lambda name, *args, **kwargs: seen.append(name))
    return seen


def won_in_a_draw(api, n=1, permit=None):
    """A booking won in a draw by applicant(n), who declared `permit` as the permit's expiry."""
    api.create_site()
    api.set_policy(allocation="draw", offer_ttl_seconds=600)
    api.schedule()
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n), "from": TODAY.isoformat(),
            "to": (TODAY + timedelta(days=10)).isoformat(), **({"permit_expires_on": permit} if permit else {})}
    request = api.call("POST", "/requests", body).body
    assert api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers()).body["offered"] == 1
    offer = api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]}).body
    booked = api.confirm(offer["hold"])
    assert booked.status == 201, booked
    return booked.body


def check_in(api, booking, person, permit=None):
    body = {"document": person["document"], "birth_date": person["birth_date"],
            **({"permit_expires_on": permit} if permit else {})}
    return api.call("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, api.staff_headers(AGENT))


def day_list(api):
    reply = api.call("GET", f"/staff/sites/{SITE}/bookings?date={APPOINTMENT_DAY}", headers=api.staff_headers(AGENT))
    assert reply.status == 200, reply
    return {b["booking_id"]: b for b in reply.body["bookings"]}


def signals(api):
    return api.call("GET", "/staff/signals", headers=api.staff_headers(AGENT)).body["signals"]


def slot_actions(api, booking):
    slot_id = api.booking(booking).body["slot"]["slot_id"]
    return [e["action"] for e in api.call("GET", f"/staff/slots/{slot_id}/history", headers=api.staff_headers(AGENT)).body["history"]]


def test_the_day_list_shows_the_tier_and_the_declared_permit_expiry(api):
    booking = won_in_a_draw(api, permit=URGENT)
    listed = day_list(api)[booking["booking_id"]]
    assert (listed["tier"], listed["permit_expires_on"]) == (1, URGENT)


def test_an_honest_urgent_booking_is_checked_in(api, metrics):
    booking = won_in_a_draw(api, permit=URGENT)
    # The agent reads another date than declared, still within the tier: the urgency holds.
    reply = check_in(api, booking, applicant(1), (TODAY + timedelta(days=59)).isoformat())
    assert reply.status == 200, reply
    assert reply.body == {"booking_id": booking["booking_id"], "match": True, "false_urgency": False, "status": "attended"}
    assert api.booking(booking).body["status"] == "attended"
    assert signals(api)["false_urgency"] == [] and metrics == ["CheckinMatched"]


def test_a_false_urgency_refuses_the_appointment_and_is_a_signal(api, metrics):
    booking = won_in_a_draw(api, permit=URGENT)
    reply = check_in(api, booking, applicant(1), NOT_URGENT)
    assert reply.status == 200, reply
    assert reply.body == {"booking_id": booking["booking_id"], "match": True, "false_urgency": True, "status": "refused"}
    assert api.booking(booking).body["status"] == "refused"
    assert slot_actions(api, booking)[-1] == "refused"
    found = signals(api)["false_urgency"]
    assert [(s["booking_id"], s["declared_permit_expires_on"], s["read_permit_expires_on"], s["draw_day"])
            for s in found] == [(booking["booking_id"], URGENT, NOT_URGENT, TODAY.isoformat())]
    assert signals(api)["checkin_mismatches"] == []
    assert metrics == ["FalseUrgency"]
    last = api.call("GET", f"/staff/bookings/{booking['booking_id']}/history", headers=api.staff_headers(AGENT)).body["history"][-1]
    assert (last["action"], last["details"]) == ("check_in_refused", {"reason": "false_urgency", "permit_expires_on": NOT_URGENT})
    assert check_in(api, booking, applicant(1), URGENT).code == "booking_not_active"  # refused is final


def test_an_urgent_booking_cannot_be_checked_in_without_the_permit_expiry(api):
    booking = won_in_a_draw(api, permit=URGENT)
    refused = check_in(api, booking, applicant(1))
    assert refused.status == 422 and refused.body["error"]["details"]["field"] == "permit_expires_on", refused
    assert api.booking(booking).body["status"] == "booked"  # nothing written
    for bad in ("2030-13-01", "٢٠٣٠-01-01", "soon"):
        reply = check_in(api, booking, applicant(1), bad)
        assert reply.status == 422 and reply.body["error"]["details"]["field"] == "permit_expires_on", reply


def test_someone_else_at_the_counter_is_a_mismatch_not_a_false_urgency(api, metrics):
    booking = won_in_a_draw(api, permit=URGENT)
    reply = check_in(api, booking, applicant(2), NOT_URGENT)
    assert reply.body == {"booking_id": booking["booking_id"], "match": False, "false_urgency": False, "status": "refused"}
    assert signals(api)["false_urgency"] == []
    assert [s["booking_id"] for s in signals(api)["checkin_mismatches"]] == [booking["booking_id"]]
    assert metrics == ["CheckinMismatches"]


@pytest.mark.parametrize("permit", [NOT_URGENT, None])
def test_a_booking_won_outside_the_urgent_tier_has_nothing_to_check(api, permit):
    booking = won_in_a_draw(api, permit=permit)
    listed = day_list(api)[booking["booking_id"]]
    assert (listed["tier"], listed["permit_expires_on"]) == (2, permit)
    assert check_in(api, booking, applicant(1)).body["status"] == "attended"


def test_a_first_come_booking_has_no_tier_and_nothing_to_check(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    listed = day_list(api)[booking["booking_id"]]
    assert (listed["tier"], listed["permit_expires_on"]) == (None, None)
    assert check_in(api, booking, applicant(1), NOT_URGENT).body["status"] == "attended"
