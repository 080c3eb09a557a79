"""Over real HTTP against `chalice local` and the serialized engine: the flow, the trick,
and real threads racing (SPEC §4 correctness under contention)."""
import itertools
import threading
import time

import pytest

from tests.support import applicant

pytestmark = pytest.mark.e2e
FAST = {"hold_ttl_seconds": 2, "quarantine_min_seconds": 2, "quarantine_max_seconds": 3, "cooldown_seconds": 3,
        "max_holds_per_ip_per_hour": 1_000_000}
_people = itertools.count(10_000)


def person():
    return applicant(next(_people))


def site_with_slots(http, counters=1, slot_minutes=60, **policy):
    http.create_site(site_id=http.site)
    http.set_policy(site_id=http.site, **{**FAST, **policy})
    http.schedule(site_id=http.site, counters=counters, slot_minutes=slot_minutes)
    return http.slots(site_id=http.site)


def slot_ids(http):
    return [s["slot_id"] for s in http.slots(site_id=http.site)]


def in_threads(n, work):
    """Run work(i) in n real threads released together; return the results in order."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def fresh(http):
    """A new client (own HTTP connection) for one thread."""
    from tests.support import Api

    return Api(http.transport, staff_secret=http.staff_secret)


def test_book_read_and_cancel_over_http(http):
    slot = site_with_slots(http)[0]
    hold = http.hold(slot["slot_id"], person())
    assert hold.status == 201 and hold.headers["content-type"] == "application/json"
    booking = http.confirm(hold.body)
    assert booking.status == 201
    assert http.confirm(hold.body).body == booking.body
    assert http.booking(booking.body).body["status"] == "booked"
    assert http.cancel(booking.body).status == 204


def test_cancel_and_rebook_fails_until_the_quarantine_is_over(http):
    slot = site_with_slots(http)[0]["slot_id"]
    trafficker, buyer = person(), person()
    booking = http.confirm(http.hold(slot, trafficker).body).body
    assert http.cancel(booking).status == 204
    refused = http.hold(slot, buyer)  # at once, as the trafficker's buyer would
    assert refused.status == 409 and "retry-after" not in refused.headers
    assert slot not in slot_ids(http)
    deadline = time.monotonic() + 10
    while slot not in slot_ids(http):
        assert time.monotonic() < deadline, "the slot never came back"
        time.sleep(0.2)
    assert http.hold(slot, buyer).status == 201


def proven(http, n):
    """n new people, each with an identity token already (R10): the code step takes no time of a test's clock."""
    people = [person() for _ in range(n)]
    for someone in people:
        assert http.prove(someone, http.site)
    return people


def test_release_and_expiry_both_quarantine_the_slot(http):
    slots = site_with_slots(http)
    a, b, c, d, e, f = proven(http, 6)
    released = http.hold(slots[0]["slot_id"], a).body
    http.hold(slots[1]["slot_id"], b)  # left to expire (2 s)
    assert http.release(released).status == 204
    assert http.hold(slots[0]["slot_id"], c).status == 409
    time.sleep(2.2)
    assert http.hold(slots[1]["slot_id"], d).status == 409  # expired, but in quarantine
    time.sleep(3.2)
    assert http.hold(slots[0]["slot_id"], e).status == 201
    assert http.hold(slots[1]["slot_id"], f).status == 201


def test_cooldown_over_http_tells_the_identity_when_to_come_back(http):
    slots = site_with_slots(http)
    me = person()
    http.release(http.hold(slots[0]["slot_id"], me).body)
    refused = http.hold(slots[1]["slot_id"], me)
    assert refused.status == 429 and refused.code == "cooldown"
    # Told to the next whole hour after the cooldown ends (never a second-exact instant)...
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 3 + 3600 and (time.time() + wait) % 3600 < 5
    time.sleep(FAST["cooldown_seconds"] + 0.2)  # ...which bounds the real end: then it holds again
    assert http.hold(slots[1]["slot_id"], me).status == 201


def test_32_or_more_holds_racing_for_one_slot_give_exactly_one_winner(http):
    for round_ in range(3):
        slot = site_with_slots(http)[0]["slot_id"] if round_ == 0 else slot_ids(http)[0]
        clients = [fresh(http) for _ in range(40)]
        people = [person() for _ in range(40)]
        for client, someone in zip(clients, people, strict=True):  # R10: tokens first, so the holds race
            assert client.prove(someone, http.site)
        replies = in_threads(40, lambda i: clients[i].hold(slot, people[i]))  # noqa: B023 (in_threads joins its threads before the loop moves on)
        statuses = sorted(r.status for r in replies)
        assert statuses.count(201) == 1, statuses
        assert set(statuses) == {201, 409}


def test_one_identity_racing_for_12_slots_gets_exactly_one_hold(http):
    slots = site_with_slots(http, slot_minutes=15)[:12]
    assert len(slots) == 12
    me = person()
    clients = [fresh(http) for _ in range(12)]
    for client in clients:  # R10: tokens first, so the holds race
        assert client.prove(me, http.site)
    replies = in_threads(12, lambda i: clients[i].hold(slots[i]["slot_id"], me))
    statuses = sorted(r.status for r in replies)
    assert statuses.count(201) == 1, statuses
    assert {r.code for r in replies if r.status != 201} <= {"hold_already_active", "state_changed"}
    held = [s["slot_id"] for s, r in zip(slots, replies, strict=True) if r.status == 201]
    assert len(set(s["slot_id"] for s in slots) - set(slot_ids(http))) == 1 and held[0] not in slot_ids(http)


def test_confirm_racing_with_release_leaves_one_consistent_state(http):
    slots = site_with_slots(http, slot_minutes=15)
    outcomes = set()
    for slot in slots[:8]:
        hold = http.hold(slot["slot_id"], person()).body
        a, b = fresh(http), fresh(http)
        confirm, release = in_threads(2, lambda i: a.confirm(hold) if i == 0 else b.release(hold))  # noqa: B023 (in_threads joins its threads before the loop moves on)
        if confirm.status == 201:
            assert release.status == 409
            assert http.booking(confirm.body).body["status"] == "booked"
            outcomes.add("booked")
        else:
            assert (confirm.status, release.status) == (409, 204), (confirm, release)
            outcomes.add("released")
        assert slot["slot_id"] not in slot_ids(http)  # booked, or in quarantine
    assert outcomes  # each round ended in exactly one of the two states


def test_confirm_racing_with_expiry_never_books_an_expired_hold(http):
    slots = site_with_slots(http, slot_minutes=15, hold_ttl_seconds=1)
    for slot in slots[:6]:
        hold = http.hold(slot["slot_id"], person()).body
        time.sleep(0.95)
        clients = [fresh(http) for _ in range(4)]
        replies = in_threads(4, lambda i: clients[i].confirm(hold))  # noqa: B023 (in_threads joins its threads before the loop moves on)
        booked = {r.body["booking_id"] for r in replies if r.status in (200, 201)}
        assert len(booked) <= 1
        assert {r.status for r in replies} <= {200, 201, 410}
        if booked:
            assert http.booking(next(r.body for r in replies if r.status in (200, 201))).body["status"] == "booked"
        time.sleep(3.5)  # any quarantine is over: a booked slot stays taken, an expired one is free
        assert (slot["slot_id"] in slot_ids(http)) == (not booked)


def test_the_per_ip_limit_counts_each_client_address(http):
    slots = site_with_slots(http, slot_minutes=15, max_holds_per_ip_per_hour=3)
    ip = "198.51.100.7"
    replies = [http.hold(s["slot_id"], person(), ip=ip) for s in slots[:4]]
    assert [r.status for r in replies] == [201, 201, 201, 429]
    assert replies[-1].code == "rate_limited" and int(replies[-1].headers["retry-after"]) > 0
    assert http.hold(slots[4]["slot_id"], person(), ip="198.51.100.8").status == 201


def test_staff_routes_refuse_without_a_token_in_the_error_envelope(http):
    reply = http.call("GET", "/staff/sites/x/bookings")
    assert reply.status == 401 and reply.code == "unauthorized"


def test_malformed_bodies_over_http_are_4xx_in_the_envelope(http):
    for raw, content_type in (("{", "application/json"), ("a=b", "application/x-www-form-urlencoded"), ("x", "text/plain")):
        reply = http.call("POST", "/holds", raw=raw, headers={"Content-Type": content_type})
        assert reply.status == 400 and reply.code == "malformed_request", reply
