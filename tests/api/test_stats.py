"""GET /stats/{site}: public figures from counters kept by the transactions that change them,
read with a bounded number of DynamoDB calls whatever the number of slots (SPEC §6)."""
from datetime import date, timedelta

from chalicelib.platform import clock
from chalicelib.platform.clock import epoch_of
from chalicelib.storage.models import Booking, Slot
from tests.support import PROCEDURE, SITE, applicant

AGENT = ("agents",)


def stats(api, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    reply = api.call("GET", f"/stats/{SITE}?{query}")
    assert reply.status == 200, reply
    return reply.body


def test_the_figures_agree_with_what_happened(api):
    api.create_site(procedures=(PROCEDURE, "student"))
    api.set_policy(quarantine_min_seconds=60, quarantine_max_seconds=120)
    api.schedule(days=2, counters=3)  # 18 slots
    api.schedule(procedure="student", counters=2, start_in_days=3)  # 6 slots
    slots = api.slots(limit=100)
    staff = api.staff_headers(AGENT)
    people = iter(range(1, 100))

    def person():
        return applicant(next(people))

    api.release(api.hold(slots[0]["slot_id"], person()).body)
    api.cancel(api.book(slots[1]["slot_id"], person()))
    api.cancel(api.book(slots[2]["slot_id"], person()))
    shown = person()
    attended = api.book(slots[3]["slot_id"], shown)
    assert api.call("POST", f"/staff/bookings/{attended['booking_id']}/check-in",
                    {"document": shown["document"], "birth_date": shown["birth_date"]}, staff).status == 200
    refused = api.book(slots[4]["slot_id"], person())
    stranger = person()
    assert api.call("POST", f"/staff/bookings/{refused['booking_id']}/check-in",
                    {"document": stranger["document"], "birth_date": stranger["birth_date"]}, staff).status == 200
    api.book(slots[5]["slot_id"], person())
    assert api.call("POST", f"/staff/slots/{slots[5]['slot_id']}/close", headers=staff).status == 200
    assert api.call("POST", f"/staff/slots/{slots[6]['slot_id']}/close", headers=staff).status == 200
    absent = api.book(slots[7]["slot_id"], person())
    api.hold(slots[8]["slot_id"], person())  # a hold still running: nothing to count yet
    clock.advance(epoch_of(slots[7]["starts_at"]) - clock.now() + 60)
    assert api.call("POST", f"/staff/bookings/{absent['booking_id']}/no-show", headers=staff).status == 200

    first = date.today().isoformat()
    figures = stats(api, **{"from": first})
    assert figures["procedures"][PROCEDURE] == {
        "published": 18, "booked": 6, "cancelled": 2, "quarantined": 3, "freed_late": 0, "attended": 1, "refused": 1,
        "no_show": 1, "closed": 2}
    assert figures["procedures"]["student"] == {
        "published": 6, "booked": 0, "cancelled": 0, "quarantined": 0, "freed_late": 0, "attended": 0, "refused": 0,
        "no_show": 0, "closed": 0}
    # The same figures from the tables themselves (what the old code read on every call).
    stored = list(Slot.scan())
    bookings = list(Booking.scan())
    assert figures["procedures"][PROCEDURE]["published"] == sum(s.procedure_id == PROCEDURE for s in stored)
    assert figures["procedures"][PROCEDURE]["booked"] == len(bookings)
    assert figures["procedures"][PROCEDURE]["cancelled"] == sum(b.status == "cancelled" for b in bookings)
    for status in ("attended", "refused", "no_show", "closed"):
        assert figures["procedures"][PROCEDURE][status] == sum(b.status == status for b in bookings) + (
            status == "closed")  # and the open slot closed
    # By UTC day of the appointment: the second day alone.
    second = slots[-1]["starts_at"][:10]
    assert slots[0]["starts_at"][:10] != second
    only = stats(api, **{"from": second, "to": (date.fromisoformat(second) + timedelta(days=1)).isoformat()})
    assert only["from"] == second and only["procedures"][PROCEDURE]["published"] == 9


def test_stats_cost_the_same_dynamodb_calls_for_ten_or_a_thousand_slots(api, calls):
    api.create_site()
    api.schedule(days=1, slot_minutes=60, counters=1)  # 3 slots
    stats(api)  # warm the catalog cache, as any warm Lambda has it
    calls.clear()
    stats(api)
    few = dict(calls)
    api.schedule(days=28, slot_minutes=10, counters=6, start_in_days=3)  # 28 x 18 x 6 = 3,024 slots
    stats(api)
    calls.clear()
    figures = stats(api)
    assert figures["procedures"][PROCEDURE]["published"] == 3 + 3024
    assert dict(calls) == few and few.get("Query", 0) <= 3 and "Scan" not in few, (few, dict(calls))


def test_the_range_is_bounded(api):
    api.create_site()
    today = date.today()
    for params, field in [({"from": "9999-12-31"}, "from"), ({"from": "0001-01-01"}, "from"),
                          ({"to": "9999-12-31"}, "to"),
                          ({"from": today.isoformat(), "to": (today + timedelta(days=93)).isoformat()}, "to"),
                          ({"from": today.isoformat(), "to": today.isoformat()}, "to")]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        reply = api.call("GET", f"/stats/{SITE}?{query}")
        assert reply.status == 422 and reply.body["error"]["details"] == {"field": field}, (params, reply)
    ok = stats(api, **{"from": today.isoformat(), "to": (today + timedelta(days=92)).isoformat()})
    assert ok["to"] == (today + timedelta(days=92)).isoformat()


def test_a_draw_leftover_sent_to_the_counter_is_counted_with_its_change(api):
    from chalicelib import storage

    api.create_site()
    api.schedule()
    slot = Slot.get(api.slots()[0]["slot_id"])
    assert storage.release_draw_leftover_if_unchanged(slot, clock.now(), None).ok
    assert not storage.release_draw_leftover_if_unchanged(slot, clock.now(), None).ok  # once: the condition
    assert stats(api)["procedures"][PROCEDURE]["freed_late"] == 1
