"""`auto` allocation through the API (SPEC §4 R3, R6): first come while nobody waits; every way a
slot becomes free, with and without a waiting standby request."""
from datetime import date, timedelta

import pytest

from chalicelib.platform import clock
from chalicelib.platform.clock import epoch_of
from tests.support import PROCEDURE, SITE, applicant

AUTO = {"allocation": "auto", "hold_ttl_seconds": 60, "quarantine_min_seconds": 100, "quarantine_max_seconds": 200,
        "cooldown_seconds": 1000, "offer_ttl_seconds": 600, "draw_interval_seconds": 3600}


def auto_site(api, **policy):
    api.create_site()
    api.set_policy(**{**AUTO, **policy})
    api.schedule()  # 3 hourly slots, the day after tomorrow
    return [s["slot_id"] for s in api.slots()]


def standby(api, n):
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
    return api.call("POST", "/requests", body)


def request_of(api, request):
    reply = api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]})
    assert reply.status == 200, reply
    return reply.body


def draw(api):
    reply = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
    assert reply.status == 200, reply
    return reply.body


def searchable(api):
    return {s["slot_id"] for s in api.slots()}


def book_all(api, slot_ids, first=100):
    return [api.book(slot_id, applicant(first + i)) for i, slot_id in enumerate(slot_ids)]


def wait_out_the_quarantine():
    clock.advance(AUTO["quarantine_max_seconds"] + 1)


def test_while_nobody_waits_auto_is_first_come_and_standby_is_refused(api):
    slots = auto_site(api)
    refused = standby(api, 1)
    assert refused.status == 409 and refused.code == "slots_available"
    booking = api.book(slots[0], applicant(2))
    assert searchable(api) == set(slots[1:])
    assert api.cancel(booking).status == 204
    assert slots[0] not in searchable(api)  # quarantined (R3), as in fcfs
    wait_out_the_quarantine()
    assert slots[0] in searchable(api)


def test_an_empty_search_offers_the_standby_list_and_a_request_joins_it(api):
    slots = auto_site(api)
    assert "standby" not in api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}").body
    book_all(api, slots)
    empty = api.call("GET", f"/sites/{SITE}/slots?procedure={PROCEDURE}").body
    assert empty["slots"] == [] and empty["standby"] == {"request": "POST /requests", "draw_interval_seconds": 3600}
    filed = standby(api, 1)
    assert filed.status == 201 and filed.body["status"] == "waiting"
    # The next draw's seed is committed as soon as somebody waits.
    draws = api.call("GET", f"/sites/{SITE}/procedures/{PROCEDURE}/draws").body["draws"]
    assert draws[0]["status"] == "committed" and "seed" not in draws[0]


def test_a_standby_request_for_days_without_holdable_slots_is_accepted(api):
    auto_site(api)  # the slots are the day after tomorrow
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(1),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=1)).isoformat()}
    assert api.call("POST", "/requests", body).status == 201


# --- every way a slot becomes free ---------------------------------------------------------------

def free_by_cancel(api, slots):
    bookings = book_all(api, slots)
    return lambda: api.cancel(bookings[0]), slots[0]


def free_by_release(api, slots):
    book_all(api, slots[1:])
    hold = api.hold(slots[0], applicant(99)).body
    return lambda: api.release(hold), slots[0]


def free_by_expiry(api, slots):
    book_all(api, slots[1:])
    api.hold(slots[0], applicant(99))
    return lambda: clock.advance(AUTO["hold_ttl_seconds"]), slots[0]


FREEINGS = {"cancelled booking": free_by_cancel, "released hold": free_by_release, "expired hold": free_by_expiry}


@pytest.mark.parametrize("way", FREEINGS)
def test_a_slot_freed_while_a_request_waits_goes_to_the_draw_never_to_search(api, way):
    slots = auto_site(api)
    free, freed = FREEINGS[way](api, slots)
    waiting = standby(api, 1).body
    free()
    for _ in range(3):
        assert freed not in searchable(api)
        assert api.hold(freed, applicant(2)).code == "slot_unavailable"
        clock.advance(AUTO["quarantine_max_seconds"] / 2)
    assert draw(api)["offered"] == 1
    offered = request_of(api, waiting)
    assert offered["status"] == "offered" and offered["hold"]["slot"]["slot_id"] == freed
    assert api.confirm(offered["hold"]).status == 201


@pytest.mark.parametrize("way", FREEINGS)
def test_a_slot_freed_while_nobody_waits_goes_to_search_after_a_quarantine(api, way):
    slots = auto_site(api)
    free, freed = FREEINGS[way](api, slots)
    free()
    assert freed not in searchable(api)
    wait_out_the_quarantine()
    assert freed in searchable(api)


def test_a_lapsed_offer_goes_to_the_next_draw_while_others_wait(api):
    slots = auto_site(api)
    bookings = book_all(api, slots)
    first, second = standby(api, 1).body, standby(api, 2).body
    api.cancel(bookings[0])
    assert draw(api)["offered"] == 1
    winner, other = (first, second) if request_of(api, first)["status"] == "offered" else (second, first)
    clock.advance(AUTO["offer_ttl_seconds"] + AUTO["quarantine_max_seconds"] + 1)
    assert request_of(api, winner)["status"] == "expired"
    assert slots[0] not in searchable(api)
    clock.advance(AUTO["draw_interval_seconds"])
    assert draw(api)["offered"] == 1
    assert request_of(api, other)["hold"]["slot"]["slot_id"] == slots[0]


def test_a_lapsed_offer_goes_to_search_at_a_random_instant_when_nobody_waits(api):
    slots = auto_site(api)
    bookings = book_all(api, slots)
    standby(api, 1)
    api.cancel(bookings[0])
    draw(api)
    clock.advance(AUTO["offer_ttl_seconds"] + AUTO["quarantine_min_seconds"] - 1)
    assert slots[0] not in searchable(api)  # not at the offer's known expiry
    clock.advance(AUTO["quarantine_max_seconds"] - AUTO["quarantine_min_seconds"] + 2)
    assert slots[0] in searchable(api)


def test_a_withdrawn_offer_goes_to_the_next_draw_while_others_wait(api):
    slots = auto_site(api)
    bookings = book_all(api, slots)
    first, second = standby(api, 1).body, standby(api, 2).body
    api.cancel(bookings[0])
    draw(api)
    winner, other = (first, second) if request_of(api, first)["status"] == "offered" else (second, first)
    assert api.call("DELETE", f"/requests/{winner['request_id']}", headers={"X-Request-Token": winner["request_token"]}).status == 204
    wait_out_the_quarantine()
    assert slots[0] not in searchable(api)
    assert draw(api)["offered"] == 1
    assert request_of(api, other)["hold"]["slot"]["slot_id"] == slots[0]


def test_fresh_inventory_reaching_its_publication_instant_goes_to_the_draw_while_someone_waits(api):
    api.create_site()
    api.set_policy(**AUTO, publish_window_seconds=1000)
    api.schedule(publish="random_window")
    assert api.slots() == []
    waiting = standby(api, 1).body
    clock.advance(1001)
    assert api.slots() == []
    assert draw(api)["offered"] == 1
    assert request_of(api, waiting)["status"] == "offered"


def test_what_a_draw_leaves_goes_to_search_at_a_random_instant_not_at_the_draw(api):
    slots = auto_site(api)
    bookings = book_all(api, slots)
    standby(api, 1)
    api.cancel(bookings[0])
    api.cancel(bookings[1])
    ran = draw(api)
    assert {k: ran[k] for k in ("entrants", "slots", "offered", "status")} == {"entrants": 1, "slots": 2, "offered": 1, "status": "run"}
    assert searchable(api) == set()  # nobody waits any more, but the leftover is not out yet
    clock.advance(AUTO["quarantine_min_seconds"] - 1)
    assert searchable(api) == set()
    clock.advance(AUTO["quarantine_max_seconds"] - AUTO["quarantine_min_seconds"] + 2)
    assert len(searchable(api)) == 1


def test_unused_partner_share_goes_to_the_draw_while_someone_waits(api):
    api.create_site()
    api.set_policy(**AUTO, partner_share=1.0, partner_release_lead_seconds=86400)
    api.schedule()
    assert api.slots() == []
    first = min(epoch_of(s["starts_at"]) for s in api.partner_slots(api.create_partner()))
    waiting = standby(api, 1).body
    clock.advance(first - 86400 + 1 - clock.now())
    assert api.slots() == []
    assert draw(api)["offered"] == 1
    assert request_of(api, waiting)["status"] == "offered"


def test_the_tick_draws_once_the_first_standby_request_has_waited_a_draw_interval(api):
    import app as application

    slots = auto_site(api)
    assert application.run_due_draws.func({}) == []
    bookings = book_all(api, slots)
    waiting = standby(api, 1).body
    api.cancel(bookings[2])
    assert application.run_due_draws.func({}) == []  # others who check now and then may still join
    clock.advance(AUTO["draw_interval_seconds"] / 2)
    late = standby(api, 2).body
    clock.advance(AUTO["draw_interval_seconds"] / 2)
    assert [r["entrants"] for r in application.run_due_draws.func({})] == [2]
    assert {request_of(api, r)["status"] for r in (waiting, late)} == {"offered", "waiting"}
    assert application.run_due_draws.func({}) == []  # the next one an interval later


# --- near-term slots and slots that have started --------------------------------------------------

def test_a_booking_cancelled_too_close_to_its_start_stays_with_the_counter(api):
    slots = auto_site(api)
    booking = api.book(slots[0], applicant(1))
    clock.advance(epoch_of(booking["slot"]["starts_at"]) - 240 - clock.now())  # too close for a release window
    assert api.cancel(booking).status == 204
    clock.advance(200)
    assert slots[0] not in searchable(api)
    assert api.hold(slots[0], applicant(2)).code == "slot_unavailable"
    day = booking["slot"]["starts_at"][:10]
    listed = api.call("GET", f"/staff/sites/{SITE}/bookings?date={day}", headers=api.staff_headers(("agents",))).body
    assert [b.get("slot_state") for b in listed["bookings"]] == ["freed_late"]
    assert api.call("GET", f"/stats/{SITE}").body["procedures"][PROCEDURE]["freed_late"] == 1


def test_a_slot_freed_too_close_for_a_draw_and_an_offer_is_not_drawn(api):
    slots = auto_site(api)
    bookings = book_all(api, slots)
    waiting = standby(api, 1).body
    starts = epoch_of(bookings[0]["slot"]["starts_at"])
    clock.advance(starts - AUTO["draw_interval_seconds"] - AUTO["offer_ttl_seconds"] + 1 - clock.now())
    api.cancel(bookings[0])
    assert draw(api)["offered"] == 0
    assert request_of(api, waiting)["status"] == "waiting"


def test_nothing_can_be_held_or_booked_once_the_slot_has_started(api):
    slots = auto_site(api, hold_ttl_seconds=86400)
    starts = epoch_of(api.slots()[0]["starts_at"])
    clock.advance(starts - 60 - clock.now())
    hold = api.hold(slots[0], applicant(1)).body
    clock.advance(61)
    refused = api.confirm(hold)
    assert refused.status == 409 and refused.code == "slot_started"
    clock.advance(3 * 3600)  # the other two have started too, untouched
    assert api.slots() == []
    assert [api.hold(slot_id, applicant(2)).code for slot_id in slots[1:]] == ["slot_unavailable"] * 2


def test_a_draw_never_offers_a_slot_that_has_started(api):
    slots = auto_site(api, offer_ttl_seconds=60)
    bookings = book_all(api, slots)
    waiting = standby(api, 1).body
    api.cancel(bookings[0])
    clock.advance(epoch_of(bookings[0]["slot"]["starts_at"]) + 1 - clock.now())
    assert draw(api)["offered"] == 0
    assert request_of(api, waiting)["status"] == "waiting"


def test_withdrawing_the_covering_request_does_not_publish_the_freed_slot_at_a_chosen_moment(api):
    import app as application

    slots = auto_site(api)
    bookings = book_all(api, slots)
    waiting = standby(api, 1).body
    api.cancel(bookings[0])  # the slot is the draw's now
    api.call("DELETE", f"/requests/{waiting['request_id']}", headers={"X-Request-Token": waiting["request_token"]})
    wait_out_the_quarantine()
    assert slots[0] not in searchable(api)  # only a draw (or the tick, nobody waiting) lets it go
    assert application.run_due_draws.func({}) == []
    assert slots[0] not in searchable(api)
    clock.advance(AUTO["quarantine_min_seconds"] - 1)
    assert slots[0] not in searchable(api)
    clock.advance(AUTO["quarantine_max_seconds"] - AUTO["quarantine_min_seconds"] + 2)
    assert slots[0] in searchable(api)
