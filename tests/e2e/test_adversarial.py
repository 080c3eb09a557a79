"""Fair allocation (docs/fairness.md): the traffickers' tricks (SPEC §1) over real HTTP, as assertions.

fcfs: cancel-and-rebook, release-and-rehold and expiry-and-rehold by the buyer at once all fail,
and the slot comes back at an instant the server draws, not one the trafficker picks. Draw mode:
a freed slot goes to the next draw, never straight to anyone; the canceller is excluded; the draw
is committed before and replays after; a buyer wins about 1/N. The per-IP hold limit, and
cooldowns for hold cycling. The figures are in bench/adversarial.py and docs/fairness.md."""
import itertools
import threading
import time
from datetime import date, datetime, timedelta

import pytest

from chalicelib.rules import lottery
from tests.support import PROCEDURE, applicant

pytestmark = pytest.mark.e2e
FAST = {"hold_ttl_seconds": 2, "quarantine_min_seconds": 2, "quarantine_max_seconds": 3, "cooldown_seconds": 30,
        "max_holds_per_ip_per_hour": 1_000_000}
DRAW = {"allocation": "draw", "offer_ttl_seconds": 600, "cooldown_seconds": 30, "max_holds_per_ip_per_hour": 1_000_000}
_people = itertools.count(30_000)
_ips = itertools.count(1)


def person():
    return applicant(next(_people))


def proven(http, site, n):
    """n new people, each with an identity token for this site already (R10): the code step takes
    none of a timed sequence's time."""
    people = [person() for _ in range(n)]
    for someone in people:
        assert http.prove(someone, site)
    return people


def ip():
    n = next(_ips)
    return f"203.0.{n // 250}.{n % 250 + 1}"


def new_site(http, policy, closes="12:00", slot_minutes=60, suffix=""):
    site = http.site + suffix
    http.create_site(site_id=site)
    http.set_policy(site_id=site, **policy)
    http.schedule(site_id=site, closes=closes, slot_minutes=slot_minutes)
    return site


def visible(http, site):
    return [s["slot_id"] for s in http.slots(site_id=site)]


# --- fcfs -----------------------------------------------------------------------------------

def test_fcfs_the_buyer_cannot_take_a_freed_slot_at_once_and_the_server_picks_when_it_returns(http):
    site = new_site(http, FAST)
    s_cancel, s_release, s_expire = visible(http, site)
    fakes, buyers = proven(http, site, 3), proven(http, site, 3)
    passers_by = iter(proven(http, site, 60))
    booking = http.confirm(http.hold(s_cancel, fakes[0], ip=ip()).body).body
    released = http.hold(s_release, fakes[1], ip=ip()).body
    expiring = http.hold(s_expire, fakes[2], ip=ip()).body
    expires = time.time() + FAST["hold_ttl_seconds"]  # expires_at is shown to the second; this bounds the real one

    freed_at = {s_cancel: time.time()}  # taken before the call: the server frees it a little later
    assert http.cancel(booking).status == 204
    at_once = [http.hold(s_cancel, buyers[0], ip=ip())]
    freed_at[s_release] = time.time()
    assert http.release(released).status == 204
    at_once.append(http.hold(s_release, buyers[1], ip=ip()))
    assert datetime.fromisoformat(expiring["expires_at"]).timestamp() <= expires
    time.sleep(max(0.0, expires - time.time()) + 0.05)  # the trafficker knows the expiry to a few ms
    freed_at[s_expire] = expires
    at_once.append(http.hold(s_expire, buyers[2], ip=ip()))
    for reply in at_once:
        # 409, the same answer as for any taken slot: no Retry-After, nothing about the slot's timing
        assert reply.status == 409 and reply.code == "slot_unavailable", reply
        assert "retry-after" not in reply.headers and reply.body["error"]["details"] == {}

    # The trafficker cannot grab it back himself either: while it is hidden he gets what anyone
    # gets, whatever his identities' state (no oracle), and once it is back, their cooldown (below).
    for fake, slot in zip(fakes, (s_cancel, s_release, s_expire), strict=True):
        refused = http.hold(slot, fake, ip=ip())
        assert refused.status == 409 and refused.code == "slot_unavailable", refused

    # Each slot stays hidden and unholdable for at least quarantine_min after it was freed, then
    # comes back by itself (within quarantine_max) at an instant no client chose.
    back_at, deadline = {}, time.monotonic() + 8
    while len(back_at) < 3:
        assert time.monotonic() < deadline, f"slots never came back: {set(freed_at) - set(back_at)}"
        shown = set(visible(http, site))
        for slot in freed_at:
            if slot in back_at:
                continue
            if slot in shown:
                back_at[slot] = time.time()
            elif time.time() < freed_at[slot] + FAST["quarantine_min_seconds"] - 0.2:
                assert http.hold(slot, next(passers_by), ip=ip()).status == 409
        time.sleep(0.1)
    for slot, at in back_at.items():
        assert at - freed_at[slot] >= FAST["quarantine_min_seconds"] - 0.05, (slot, at - freed_at[slot])
    winner = http.hold(s_cancel, buyers[0], ip=ip())
    assert winner.status == 201  # once back, it is first come for everybody, the buyer included
    for fake in fakes:  # whatever identity he freed it with
        refused = http.hold(s_release, fake, ip=ip())
        assert refused.status == 429 and refused.code == "cooldown", refused


# --- draw mode ------------------------------------------------------------------------------

def _file(http, site, who, ip_address=None):
    body = {"site_id": site, "procedure_id": PROCEDURE, "applicant": who, "from": date.today().isoformat(),
            "to": (date.today() + timedelta(days=30)).isoformat()}
    return http.call("POST", "/requests", body, {"X-Forwarded-For": ip_address or ip()})


def _status(http, request):
    return http.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]}).body


def _run(http, site):
    reply = http.call("POST", f"/staff/sites/{site}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=http.staff_headers())
    assert reply.status == 200, reply
    return reply.body


def _draws(http, site):
    return http.call("GET", f"/sites/{site}/procedures/{PROCEDURE}/draws").body["draws"]


def _trafficker_books_one_slot_then_buyer_and_others_enter(http, site, others):
    who = person()
    fake = _file(http, site, who).body
    assert _run(http, site)["offered"] == 1
    booking = http.confirm(_status(http, fake)["hold"]).body
    buyer = _file(http, site, person()).body
    honest = [_file(http, site, person()).body for _ in range(others)]
    return who, booking, buyer, honest


def test_draw_a_cancelled_slot_waits_for_the_next_draw_excludes_its_canceller_and_replays(http):
    site = new_site(http, {**DRAW, "cooldown_seconds": 1}, closes="10:00")  # one slot
    fake_identity, booking, buyer, honest = _trafficker_books_one_slot_then_buyer_and_others_enter(http, site, 3)
    slot = booking["slot"]["slot_id"]
    assert http.cancel(booking).status == 204

    # Nothing goes straight to anyone: not searchable, not holdable, no offer before the draw.
    assert http.slots(site_id=site) == []
    assert http.hold(slot, applicant(99_999), ip=ip()).code == "draw_only"
    assert _status(http, buyer)["status"] == "waiting" and "hold" not in _status(http, buyer)
    committed = next(d for d in _draws(http, site) if d["status"] == "committed")
    assert "seed" not in committed

    time.sleep(1.1)  # the canceller's cooldown (1 s here) is over: he enters again
    again = _file(http, site, fake_identity)
    assert again.status == 201, again
    _run(http, site)
    record = http.draw_record(next(d for d in _draws(http, site) if d["draw_id"] == committed["draw_id"]), site_id=site)
    assert lottery.seed_commitment(record["seed"]) == committed["seed_hash"]
    assert [list(p) for p in lottery.allocate(record["entrants"], record["slots"], record["seed"])] == record["allocation"]
    assert [s["slot_id"] for s in record["slots"]] == [slot]
    entrants = {e["request_id"]: e for e in record["entrants"]}
    assert set(entrants) == {again.body["request_id"], buyer["request_id"], *(h["request_id"] for h in honest)}
    assert entrants[again.body["request_id"]]["excluded_slots"] == [slot]
    assert [e["excluded_slots"] for rid, e in entrants.items() if rid != again.body["request_id"]] == [[]] * 4
    (winner, won_slot), = record["allocation"]
    assert won_slot == slot and winner != again.body["request_id"]
    assert _status(http, again.body)["status"] == "waiting"


def test_draw_a_withdrawn_offer_and_a_lapsed_offer_also_go_to_the_next_draw(http):
    for how in ("withdraw", "lapse"):
        site = new_site(http, {**DRAW, "offer_ttl_seconds": 1} if how == "lapse" else DRAW, closes="10:00", suffix=how)
        fake = _file(http, site, person()).body
        _run(http, site)
        offer = _status(http, fake)["hold"]
        buyer = _file(http, site, person()).body
        if how == "withdraw":
            assert http.call("DELETE", f"/requests/{fake['request_id']}", headers={"X-Request-Token": fake["request_token"]}).status == 204
        else:
            time.sleep(1.1)
            assert _status(http, fake)["status"] == "expired"
        assert http.hold(offer["slot"]["slot_id"], applicant(99_998), ip=ip()).code == "draw_only"
        assert _status(http, buyer)["status"] == "waiting"
        _run(http, site)
        records = (http.draw_record(d, site_id=site) for d in _draws(http, site) if d["status"] == "run" and d["entrants"])
        record = next(r for r in records if r["entrants"][0]["request_id"] == buyer["request_id"])
        assert [s["slot_id"] for s in record["slots"]] == [offer["slot"]["slot_id"]]


def test_draw_a_buyer_wins_the_freed_slot_at_about_one_in_n(http):
    """12 draws, each with the trafficker's freed slot alone and N = 4 entrants: the buyer's
    wins follow Binomial(12, 1/4). P(10 or more) < 5e-5: the bound cannot flake, but a buyer
    who got the slot whenever the trafficker freed it (12/12) fails it."""
    wins = 0
    for k in range(12):
        site = new_site(http, DRAW, closes="10:00", suffix=f"-n{k}")
        _, booking, buyer, _ = _trafficker_books_one_slot_then_buyer_and_others_enter(http, site, 3)
        assert http.cancel(booking).status == 204
        _run(http, site)
        status = _status(http, buyer)
        wins += status["status"] == "offered" and status["hold"]["slot"]["slot_id"] == booking["slot"]["slot_id"]
    assert wins <= 9, wins


# --- per-IP limit and hold cycling ----------------------------------------------------------

def test_the_per_ip_limit_stops_one_address_holding_many_slots_even_with_many_identities(http):
    site = new_site(http, {**FAST, "max_holds_per_ip_per_hour": 3}, closes="13:00", slot_minutes=15)
    slots, cafe = visible(http, site), ip()
    people = proven(http, site, 9)
    replies = [http.hold(slots[i], people[i], ip=cafe) for i in range(8)]
    assert [r.status for r in replies] == [201] * 3 + [429] * 5
    assert {r.code for r in replies[3:]} == {"rate_limited"}
    assert all(0 < int(r.headers["retry-after"]) <= 3600 for r in replies[3:])
    # releasing does not give the address its holds back: the limit counts holds taken
    assert http.release(replies[0].body).status == 204
    assert http.hold(slots[8], people[8], ip=cafe).code == "rate_limited"
    # concurrent attempts from the same address cannot get past the limit either
    results, barrier = [None] * 6, threading.Barrier(6)
    from tests.support import Api
    clients = [Api(http.transport, staff_secret=http.staff_secret) for _ in range(6)]
    other = ip()

    def attempt(i):
        barrier.wait()
        results[i] = clients[i].hold(slots[9 + i], person(), ip=other).status

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] * 3 + [429] * 3


def test_hold_cycling_puts_every_cycling_identity_into_cooldown(http):
    site = new_site(http, {**FAST, "hold_ttl_seconds": 1, "cooldown_seconds": 30}, slot_minutes=15)
    slots = visible(http, site)
    released, lapsed, cancelled = proven(http, site, 3)
    assert http.release(http.hold(slots[0], released, ip=ip()).body).status == 204
    http.hold(slots[1], lapsed, ip=ip())
    assert http.cancel(http.confirm(http.hold(slots[2], cancelled, ip=ip()).body).body).status == 204
    time.sleep(1.1)  # the lapsed hold has expired
    for who, k in ((released, 3), (lapsed, 4), (cancelled, 5)):
        refused = http.hold(slots[k], who, ip=ip())
        assert refused.status == 429 and refused.code == "cooldown", refused
        assert 1 <= int(refused.headers["retry-after"]) <= 31 + 3600  # to the next whole hour
    # a fresh identity on a fresh address still gets a slot: cycling costs identities, not others' access
    assert http.hold(slots[6], person(), ip=ip()).status == 201


# --- found by this suite: committed as xfail, fixed in 10a84ea (R8 for requests) --

def test_one_address_cannot_file_unlimited_draw_requests(http):
    site = new_site(http, {**DRAW, "max_holds_per_ip_per_hour": 3}, closes="10:00")
    cafe = ip()
    replies = [_file(http, site, person(), ip_address=cafe) for _ in range(6)]
    assert [r.status for r in replies] == [201] * 3 + [429] * 3, replies
    assert {r.code for r in replies[3:]} == {"rate_limited"} and int(replies[-1].headers["retry-after"]) > 0
    assert _file(http, site, person()).status == 201  # another address is not affected
