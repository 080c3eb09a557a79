"""Draw records of any size, draws that survive a crash at any step, and the public list and
record read in bounded pages (DEVELOPERS.md, "Draws (R6)"; docs/deploy.md, "Draws that survive a crash")."""
import json
from collections import Counter
from datetime import date, timedelta

import pytest

from chalicelib import storage
from chalicelib.platform import clock, config
from chalicelib.rules import lottery
from chalicelib.storage import draws as storage_draws
from chalicelib.storage.models import DrawRecordChunk, Hold, Request
from chalicelib.usecases import draw_runs, draw_terms
from tests.support import PROCEDURE, SITE, applicant, at_the_wire

DRAW = {"allocation": "draw", "offer_ttl_seconds": 600, "cooldown_seconds": 1000}
DRAWS = f"/sites/{SITE}/procedures/{PROCEDURE}/draws"


class Crash(Exception):
    """The process dies here (a Lambda timeout or kill): nothing after this line runs."""


def file(api, n):
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
    reply = api.call("POST", "/requests", body)
    assert reply.status == 201, reply
    return reply.body


def staff_run(api):
    return api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())


def tick():
    import app as application

    return application.run_due_draws.func({})


def stored_draw(draw_id):
    return storage.get_draw(SITE, PROCEDURE, draw_id)


def replays(record, committed_hash):
    return (lottery.seed_commitment(record["seed"]) == committed_hash
            and [list(p) for p in lottery.allocate(record["entrants"], record["slots"], record["seed"])] == record["allocation"])


def offers_of_the_draw():
    """Every offer in the holds table: (request_id, slot_id) pairs."""
    return [(h.request_id, h.slot_id) for h in Hold.scan() if h.request_id]


# --- size -----------------------------------------------------------------------------------

def test_a_draw_over_8000_free_slots_completes_and_its_record_reads_back_whole(api, monkeypatch):
    # What is tested is the size, not the staff run's time budget (the crash tests below resume
    # runs that stopped): a loaded test machine must not stop this one midway.
    monkeypatch.setenv("DRAW_STAFF_BUDGET_SECONDS", "600")
    api.create_site()
    api.set_policy(**DRAW)
    # Two schedules (at most 5,000 slots each) of 5-minute slots: 8,040 slots, no HTTP call each.
    assert api.schedule(opens="08:00", closes="18:00", slot_minutes=5, counters=34) == 4080
    assert api.schedule(opens="08:00", closes="18:00", slot_minutes=5, counters=33, start_in_days=3) == 3960
    committed = api.draws()[0]
    request = file(api, 1)
    reply = staff_run(api)
    assert reply.status == 200, reply
    assert {k: reply.body[k] for k in ("entrants", "slots", "offered", "resumed")} == {
        "entrants": 1, "slots": 8040, "offered": 1, "resumed": False}

    summary = next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])
    assert summary["status"] == "run" and summary["seed"] and summary["record_pages"]["slots"] >= 2
    record = api.draw_record(summary)
    assert len(record["slots"]) == 8040 and len(record["entrants"]) == 1 and len(record["allocation"]) == 1
    assert len(json.dumps(record["slots"])) > 400 * 1024  # more than one DynamoDB item could hold
    assert replays(record, committed["seed_hash"])
    assert record["allocation"] == [[request["request_id"], record["allocation"][0][1]]]
    # Every chunk stays well under DynamoDB's 400 KB item limit.
    chunks = [c for c in DrawRecordChunk.scan() if c.draw_pk.startswith("record#")]
    assert len(chunks) == sum(summary["record_pages"].values())
    assert max(len(json.dumps(c.items)) for c in chunks) <= storage.RECORD_CHUNK_BYTES


# --- crashes at every step --------------------------------------------------------------------

# Small chunks, so that a record of 8 entrants and 6 slots spans several chunks per part.
CHUNK_BYTES = 400
STEPS = (
    [("after claim", "record_draw_chunks", 0)]
    + [(f"after chunk {k}", "_put_record_chunk", k) for k in range(1, 8)]
    + [("after record", "make_offer_if_still_possible", 0)]
    + [(f"after offer {k}", "make_offer_if_still_possible", k) for k in range(1, 6)]
    + [("before done", "mark_draw_run", 0)]
)
# Resumed by the staff call or by the scheduled tick, in turn.
STEPS = [(*step, ("staff", "tick")[i % 2]) for i, step in enumerate(STEPS)]


def crash_after(monkeypatch, name, calls):
    """storage.<name> works `calls` times, then the process dies on the next call (a private
    step of the draws aggregate is patched in its module, storage/draws.py)."""
    module = storage_draws if name.startswith("_") else storage
    original, made = getattr(module, name), []

    def dying(*args, **kwargs):
        if len(made) >= calls:
            raise Crash(name)
        made.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, dying)
    return lambda: monkeypatch.setattr(module, name, original)


def crash_site(api, monkeypatch):
    monkeypatch.setattr(storage, "RECORD_CHUNK_BYTES", CHUNK_BYTES)
    monkeypatch.setattr(storage_draws, "RECORD_CHUNK_BYTES", CHUNK_BYTES)
    api.create_site()
    api.set_policy(**DRAW)
    api.schedule(days=2)  # 6 slots
    committed = api.draws()[0]
    requests = [file(api, n) for n in range(8)]
    return committed, requests


def expected_allocation(committed):
    """What the committed seed decides over the entrants and slots stored now (the test opens the
    sealed seed behind the API's back, as only the draw function may)."""
    draw = stored_draw(committed["draw_id"])
    seed = draw_terms.committed_seed(draw)
    now = clock.now()
    from chalicelib.usecases import site_catalog

    entrants, pool, *_ = draw_runs._entrants_and_slots(draw, site_catalog.policy(SITE, PROCEDURE), "Europe/Paris", now)
    return [list(p) for p in lottery.allocate(entrants, pool, seed)]


@pytest.mark.parametrize("step,name,calls,resume_by", STEPS, ids=[f"{s[0]}, resumed by {s[3]}" for s in STEPS])
def test_a_draw_that_crashes_at_any_step_is_completed_with_the_same_allocation(api, monkeypatch, step, name, calls, resume_by):
    committed, requests = crash_site(api, monkeypatch)
    expected = expected_allocation(committed)
    assert len(expected) == 6
    heal = crash_after(monkeypatch, name, calls)
    with pytest.raises(Crash):
        draw_runs.run_draw(SITE, PROCEDURE, clock.now())
    heal()

    left = stored_draw(committed["draw_id"])
    recorded = name in ("make_offer_if_still_possible", "mark_draw_run")
    assert left.status == ("allocating" if recorded else "running")
    public = next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])
    assert ("seed" in public) == recorded  # revealed as soon as recorded: before any offer exists
    assert len(offers_of_the_draw()) == (min(calls, 6) if name == "make_offer_if_still_possible" else 6 if name == "mark_draw_run" else 0)

    # Within the crashed run's lease nobody else runs the draw (nor draws a new one).
    busy = staff_run(api)
    assert busy.status == 409 and busy.code == "draw_running" and int(busy.headers["retry-after"]) >= 1
    assert tick() == []
    clock.advance(config.current().draw_lease_seconds + 1)
    counted = []
    monkeypatch.setattr(draw_runs, "metric", lambda name, *a, **k: counted.append(name))

    if resume_by == "staff":
        reply = staff_run(api)
        assert reply.status == 200, reply
        result = reply.body
    else:
        (result,) = tick()
    assert result["draw_id"] == committed["draw_id"] and result["resumed"] is True
    assert "DrawResumed" in counted and ("DrawStuck" in counted) == (resume_by == "tick")
    assert (result["offered"], result["skipped"]) == (6, 0)

    summary = next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])
    record = api.draw_record(summary)
    assert summary["status"] == "run" and replays(record, committed["seed_hash"])
    assert record["allocation"] == expected
    assert calls < sum(summary["record_pages"].values())  # a crash between two chunks, not after all
    offers = offers_of_the_draw()
    assert sorted(offers) == sorted(tuple(p) for p in expected)
    assert max(Counter(r for r, _ in offers).values()) == 1 and max(Counter(s for _, s in offers).values()) == 1
    for request_id, slot_id in expected:
        found = Request.get(request_id)
        assert found.status == "offered" and Hold.get(found.hold_id).slot_id == slot_id
    assert api.draws()[0]["status"] == "committed"  # the next draw's commitment, once


def test_a_live_run_renews_its_lease_and_is_never_taken_over(api, monkeypatch):
    committed, _ = crash_site(api, monkeypatch)
    original, rivals = storage.make_offer_if_still_possible, []

    def slow_offer(*args, **kwargs):
        clock.advance(config.current().draw_lease_seconds / 2)  # each offer takes half a lease
        try:
            draw_runs.run_draw(SITE, PROCEDURE, clock.now())
        except Exception as exc:  # noqa: BLE001 -- what the rival got is the point
            rivals.append(getattr(exc, "code", repr(exc)))
        return original(*args, **kwargs)

    monkeypatch.setattr(storage, "make_offer_if_still_possible", slow_offer)
    result = draw_runs.run_draw(SITE, PROCEDURE, clock.now(), budget_seconds=3600)
    assert result["offered"] == 6 and result["resumed"] is False
    assert rivals == ["draw_running"] * 6
    assert stored_draw(committed["draw_id"]).resumed is None


def test_a_run_that_reaches_its_time_budget_saves_its_progress_and_the_next_run_goes_on(api, monkeypatch):
    committed, _ = crash_site(api, monkeypatch)
    original, tried, counted = storage.make_offer_if_still_possible, [], []

    def slow_offer(request, *args, **kwargs):
        clock.advance(4)  # past the staff call's 10 s after the third offer
        tried.append(request.request_id)
        return original(request, *args, **kwargs)

    monkeypatch.setattr(storage, "make_offer_if_still_possible", slow_offer)
    monkeypatch.setattr(draw_runs, "metric", lambda name, *a, **k: counted.append(name))
    first = staff_run(api).body
    assert (first["status"], first["offered"], first["remaining"], first["resumed"]) == ("allocating", 3, 3, False)
    left = stored_draw(committed["draw_id"])
    assert (left.status, left.runner, left.offers_done) == ("allocating", None, 3)
    assert "seed" in next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])

    (second,) = tick()  # no lease to wait for: the draw was released, not abandoned
    assert (second["status"], second["offered"], second["remaining"], second["resumed"]) == ("run", 6, 0, True)
    assert len(tried) == 6 == len(set(tried))  # the next run starts where the first stopped
    assert "DrawResumed" not in counted and "DrawStuck" not in counted
    assert sorted(offers_of_the_draw()) == sorted(tuple(p) for p in api.draw_record(
        next(d for d in api.draws() if d["draw_id"] == committed["draw_id"]))["allocation"])


def test_an_offer_made_before_a_crash_and_withdrawn_since_is_not_made_again(api, monkeypatch):
    committed, requests = crash_site(api, monkeypatch)
    heal = crash_after(monkeypatch, "make_offer_if_still_possible", 1)
    with pytest.raises(Crash):
        draw_runs.run_draw(SITE, PROCEDURE, clock.now())
    heal()
    (first_request, _), = offers_of_the_draw()
    mine = next(r for r in requests if r["request_id"] == first_request)
    assert api.call("DELETE", f"/requests/{first_request}", headers={"X-Request-Token": mine["request_token"]}).status == 204
    clock.advance(config.current().draw_lease_seconds + 1)
    result = staff_run(api).body
    assert (result["offered"], result["skipped"], result["resumed"]) == (6, 0, True)
    assert len(offers_of_the_draw()) == 6  # the withdrawn one counts as made; none made twice
    assert Request.get(first_request).status == "withdrawn"


# --- bounded pages ----------------------------------------------------------------------------

def test_the_public_list_of_draws_comes_in_pages_with_sealed_cursors(api):
    api.create_site()
    api.set_policy(**DRAW)
    for _ in range(5):
        assert staff_run(api).status == 200
    everything = [d.draw_id for d in storage.draws_of(SITE, PROCEDURE, limit=100)]
    assert len(everything) == 6  # 5 run, the next one committed

    seen, cursor = [], None
    while True:
        reply = api.call("GET", f"{DRAWS}?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert reply.status == 200 and len(reply.body["draws"]) <= 2
        assert all("entrants" not in d or isinstance(d["entrants"], int) for d in reply.body["draws"])
        seen += [d["draw_id"] for d in reply.body["draws"]]
        cursor = reply.body["next_cursor"]
        if not cursor:
            break
    assert seen == everything

    first = api.call("GET", f"{DRAWS}?limit=2").body["next_cursor"]
    tampered = first[:-2] + ("AA" if first[-2:] != "AA" else "BB")
    for bad in (tampered, "x", first + "x"):
        refused = api.call("GET", f"{DRAWS}?limit=2&cursor={bad}")
        assert refused.status == 422 and refused.body["error"]["details"]["field"] == "cursor"
    api.create_site("other-site")
    foreign = api.call("GET", f"/sites/other-site/procedures/{PROCEDURE}/draws?limit=2&cursor={first}")
    assert foreign.status == 422
    assert api.call("GET", f"{DRAWS}?limit=51").status == 422


def test_a_record_is_read_part_by_part_in_pages_of_bounded_size(api, monkeypatch):
    monkeypatch.setattr(storage, "RECORD_CHUNK_BYTES", 1000)
    monkeypatch.setattr(storage_draws, "RECORD_CHUNK_BYTES", 1000)
    api.create_site()
    api.set_policy(**DRAW)
    api.schedule(days=4, counters=3)  # 36 slots
    committed = api.draws()[0]
    assert api.call("GET", f"{DRAWS}/{committed['draw_id']}/record?part=slots").code == "draw_not_found"  # not yet revealed
    for n in range(20):
        file(api, n)
    assert staff_run(api).status == 200
    summary = next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])
    assert summary["record_pages"]["slots"] >= 2 and summary["record_pages"]["entrants"] >= 3

    first = api.call("GET", f"{DRAWS}/{committed['draw_id']}/record?part=slots")
    assert first.status == 200 and len(json.dumps(first.body["items"])) <= 1000
    cursor = first.body["next_cursor"]
    import base64

    assert committed["draw_id"].encode() not in base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))  # sealed
    for bad in (cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), "!!!"):
        assert api.call("GET", f"{DRAWS}/{committed['draw_id']}/record?part=slots&cursor={bad}").status == 422
    # A cursor of one part does not page through another.
    other = api.call("GET", f"{DRAWS}/{committed['draw_id']}/record?part=slots").body
    entrants_cursor = api.call("GET", f"{DRAWS}/{committed['draw_id']}/record?part=entrants").body["next_cursor"]
    assert other["items"] == first.body["items"]
    assert api.call("GET", f"{DRAWS}/{committed['draw_id']}/record?part=slots&cursor={entrants_cursor}").status == 422
    assert api.call("GET", f"{DRAWS}/{committed['draw_id']}/record?part=seeds").status == 422
    assert api.call("GET", f"{DRAWS}/no-such-draw/record?part=slots").status == 404
    assert replays(api.draw_record(summary), committed["seed_hash"])


def test_storage_trouble_during_a_draw_is_a_503_and_the_draw_is_completed_later(api, monkeypatch):
    from botocore.exceptions import ClientError

    committed, _ = crash_site(api, monkeypatch)
    broken = set()

    def call(send, service, operation_name, api_params):
        if operation_name in broken:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation_name)
        return send()

    at_the_wire(monkeypatch, call)
    for failing in ({"PutItem"}, {"TransactWriteItems"}):  # writing the record, then making the offers
        broken.update(failing)
        reply = staff_run(api)
        assert reply.status == 503 and reply.code == "storage_unavailable" and int(reply.headers["retry-after"]) > 0
        broken.clear()
        clock.advance(config.current().draw_lease_seconds + 1)
    assert stored_draw(committed["draw_id"]).status == "allocating" and offers_of_the_draw() == []
    reply = staff_run(api)
    assert reply.status == 200 and (reply.body["offered"], reply.body["resumed"]) == (6, True)
    assert replays(api.draw_record(next(d for d in api.draws() if d["draw_id"] == committed["draw_id"])), committed["seed_hash"])


def test_an_auto_draw_that_crashes_before_its_offers_still_sends_its_leftovers_to_search_later(api, monkeypatch):
    from tests.api.test_auto import AUTO, auto_site, book_all, request_of, searchable, standby

    slots = auto_site(api)
    bookings = book_all(api, slots)
    waiting = standby(api, 1).body
    api.cancel(bookings[0])
    api.cancel(bookings[1])
    heal = crash_after(monkeypatch, "make_offer_if_still_possible", 0)
    with pytest.raises(Crash):
        draw_runs.run_draw(SITE, PROCEDURE, clock.now())
    heal()
    assert request_of(api, waiting)["status"] == "waiting" and searchable(api) == set()
    clock.advance(config.current().draw_lease_seconds + 1)
    (resumed,) = tick()
    assert (resumed["resumed"], resumed["slots"], resumed["offered"]) == (True, 2, 1)
    assert request_of(api, waiting)["status"] == "offered"
    assert searchable(api) == set()  # the leftover is not out at the draw...
    clock.advance(AUTO["quarantine_max_seconds"] + 1)
    assert len(searchable(api)) == 1  # ...but at a random instant after it, as without the crash
