"""Draw allocation through the API (R6, R3 in draw mode, verifiable draws, transparency)."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.platform import clock
from chalicelib.rules import lottery
from tests.support import PROCEDURE, SITE, applicant

DRAW = {"allocation": "draw", "offer_ttl_seconds": 600, "cooldown_seconds": 1000}


def draw_site(api, **policy):
    api.create_site()
    api.set_policy(**{**DRAW, **policy})
    api.schedule()  # 3 slots, day after tomorrow
    return api


def file(api, n, permit=None, ip=None, **extra):
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat(), **extra}
    if permit:
        body["permit_expires_on"] = permit
    return api.call("POST", "/requests", body, {"X-Forwarded-For": ip} if ip else None)


def status(api, request):
    return api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]})


def run(api):
    reply = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
    assert reply.status == 200, reply
    return reply.body


def draws(api):
    return api.call("GET", f"/sites/{SITE}/procedures/{PROCEDURE}/draws").body["draws"]


def test_in_draw_mode_slots_are_never_searchable_or_holdable(api):
    draw_site(api)
    assert api.slots() == []
    api.set_policy(allocation="fcfs")
    slot = api.slots()[0]
    api.set_policy(allocation="draw")
    refused = api.hold(slot["slot_id"], applicant(1))
    assert refused.status == 403 and refused.code == "draw_only"


def test_one_request_per_identity_and_procedure(api):
    draw_site(api)
    first = file(api, 1)
    assert first.status == 201 and first.body["status"] == "waiting"
    assert file(api, 1).code == "request_already_active"
    assert status(api, first.body).body["status"] == "waiting"


def test_winners_get_an_offer_they_confirm_into_a_booking(api):
    draw_site(api)
    requests = [file(api, n).body for n in range(5)]
    result = run(api)
    assert (result["entrants"], result["slots"], result["offered"]) == (5, 3, 3)
    views = [status(api, r).body for r in requests]
    offered = [v for v in views if v["status"] == "offered"]
    assert len(offered) == 3 and sum(v["status"] == "waiting" for v in views) == 2
    offer = offered[0]["hold"]
    booking = api.confirm(offer)
    assert booking.status == 201 and booking.body["status"] == "booked"
    winner = next(r for r in requests if r["request_id"] == offered[0]["request_id"])
    assert status(api, winner).body["status"] == "booked"
    assert len({v["hold"]["slot"]["slot_id"] for v in offered}) == 3


def test_an_unconfirmed_offer_expires_goes_to_the_next_draw_and_never_back_to_its_identity(api):
    draw_site(api)
    api.call("POST", f"/staff/sites/{SITE}/schedules", {"procedure_id": PROCEDURE, "from": (date.today() + timedelta(days=2)).isoformat(),
             "to": (date.today() + timedelta(days=2)).isoformat(), "opens": "14:00", "closes": "15:00", "slot_minutes": 60,
             "weekdays": [0, 1, 2, 3, 4, 5, 6], "publish": "now"}, api.staff_headers())
    lapsing = file(api, 1).body
    assert run(api)["slots"] == 4
    lost_slot = status(api, lapsing).body["hold"]["slot"]["slot_id"]
    clock.advance(601)
    assert status(api, lapsing).body["status"] == "expired"
    refused = file(api, 1)  # treated as having let a hold go: cooldown
    assert refused.status == 429 and refused.code == "cooldown"
    others = [file(api, n).body for n in (2, 3, 4, 5)]
    result = run(api)
    assert result["slots"] == 4 and result["offered"] == 4
    assert lost_slot in {status(api, r).body["hold"]["slot"]["slot_id"] for r in others}


def test_a_cancelled_slot_in_draw_mode_goes_to_the_next_draw_not_to_search_nor_its_canceller(api):
    draw_site(api, cooldown_seconds=10)
    mine = file(api, 1).body
    run(api)
    booking = api.confirm(status(api, mine).body["hold"]).body
    assert api.cancel(booking).status == 204
    assert api.slots() == []
    clock.advance(11)
    again = file(api, 1).body
    for _ in range(3):
        run(api)
    assert status(api, again).body["status"] == "offered"
    assert status(api, again).body["hold"]["slot"]["slot_id"] != booking["slot"]["slot_id"]


def test_draws_are_committed_before_and_replayable_after(api):
    draw_site(api)
    committed = draws(api)[0]
    assert committed["status"] == "committed" and "seed" not in committed and len(committed["seed_hash"]) == 64
    for n in range(6):
        file(api, n, permit=(date.today() + timedelta(days=10 if n < 2 else 200)).isoformat())
    run(api)
    record = api.draw_record(next(d for d in draws(api) if d["draw_id"] == committed["draw_id"]))
    assert record["status"] == "run" and lottery.seed_commitment(record["seed"]) == committed["seed_hash"]
    replay = lottery.allocate(record["entrants"], record["slots"], record["seed"])
    assert [list(p) for p in replay] == record["allocation"]
    assert draws(api)[0]["status"] == "committed"  # the next draw's commitment is already public
    urgent = {e["request_id"] for e in record["entrants"] if e["tier"] == 1}
    assert len(urgent) == 2 and urgent <= {request_id for request_id, _ in record["allocation"]}


def test_withdrawing_a_waiting_or_offered_request(api):
    draw_site(api, cooldown_seconds=50)
    waiting = file(api, 1).body
    assert api.call("DELETE", f"/requests/{waiting['request_id']}", headers={"X-Request-Token": waiting["request_token"]}).status == 204
    assert status(api, waiting).body["status"] == "withdrawn"
    offered = file(api, 2).body
    run(api)
    slot_id = status(api, offered).body["hold"]["slot"]["slot_id"]
    assert api.call("DELETE", f"/requests/{offered['request_id']}", headers={"X-Request-Token": offered["request_token"]}).status == 204
    assert file(api, 2).code == "cooldown"
    other = file(api, 3).body
    run(api)
    assert status(api, other).body["status"] == "offered"
    assert slot_id in [s["slot_id"] for s in api.draw_record(draws(api)[1])["slots"]]


def test_request_tokens_are_checked_and_fields_validated(api):
    draw_site(api)
    request = file(api, 1).body
    assert api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": "nope"}).status == 401
    bad = file(api, 2, **{"from": "soon"})
    assert bad.status == 422 and bad.body["error"]["details"]["field"] == "from"
    api.set_policy(allocation="fcfs")
    assert file(api, 3).code == "not_draw"


def test_the_scheduled_job_runs_due_draws(api):
    import app as application

    draw_site(api, draw_interval_seconds=3600)
    request = file(api, 1).body
    assert [r["offered"] for r in application.run_due_draws.func({})] == [1]
    assert application.run_due_draws.func({}) == []  # not due again before the interval
    assert status(api, request).body["status"] == "offered"


def test_public_stats_count_what_happened(api):
    api.create_site()
    api.set_policy(quarantine_min_seconds=100, quarantine_max_seconds=200)
    api.schedule()
    slots = api.slots()
    booking = api.confirm(api.hold(slots[0]["slot_id"], applicant(1)).body).body
    api.confirm(api.hold(slots[1]["slot_id"], applicant(2)).body)
    api.cancel(booking)
    figures = api.call("GET", f"/stats/{SITE}").body
    renewal = figures["procedures"][PROCEDURE]
    # Bookings made (2), of which cancelled (1); slots freed into quarantine (1).
    assert (renewal["booked"], renewal["cancelled"], renewal["quarantined"]) == (2, 1, 1)
    assert renewal["published"] == 3


def test_requests_per_client_ip_are_capped_like_holds(api):
    draw_site(api, max_holds_per_ip_per_hour=2)
    assert [file(api, n).status for n in range(3)] == [201, 201, 429]
    assert file(api, 9).code == "rate_limited"
    clock.advance(3600)
    assert file(api, 9).status == 201


def test_identities_filing_requests_from_one_ip_show_in_the_staff_signals(api):
    draw_site(api)
    partner = api.create_partner()
    assert [file(api, n, ip="203.0.113.9").status for n in range(4)] == [201] * 4
    assert file(api, 9, ip="198.51.100.2").status == 201
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(10),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
    # A partner files for its beneficiaries from its own servers: bounded by its key, not a signal.
    headers = {**api.partner_headers(partner), "X-Forwarded-For": "203.0.113.9"}
    assert api.call("POST", "/partner/requests", body, headers).status == 201
    reply = api.call("GET", "/staff/signals", headers=api.staff_headers(("agents",)))
    assert reply.body["signals"]["identities_per_ip"] == [
        {"client_ip": "203.0.113.9", "identities": 4, "holds": 0, "requests": 4}]


def test_requests_with_throw_away_addresses_show_in_the_staff_signals(api):
    draw_site(api)
    assert file(api, 1, applicant=applicant(1, email="x1@yopmail.com")).status == 201
    assert file(api, 2, applicant=applicant(2, email="x2@yopmail.com")).status == 201
    reply = api.call("GET", "/staff/signals", headers=api.staff_headers(("agents",)))
    assert reply.body["signals"]["disposable_email_domains"] == [{"domain": "yopmail.com", "holds": 0, "requests": 2}]


def test_the_partner_share_goes_to_partner_requests_until_its_release(api):
    draw_site(api, partner_share=1.0, partner_release_lead_seconds=86400)  # slots from 09:00 the day after tomorrow
    partner = api.create_partner()
    public = file(api, 1).body
    assert run(api)["offered"] == 0  # every slot is reserved for partners
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(2),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
    filed = api.call("POST", "/partner/requests", body, api.partner_headers(partner))
    assert filed.status == 201, filed
    assert api.call("POST", "/partner/requests", body).status == 401  # needs a key
    assert run(api)["offered"] == 1
    assert status(api, filed.body).body["status"] == "offered"
    assert status(api, public).body["status"] == "waiting"
    # Just past the first slot's release lead time (whatever the hour now): that slot is public.
    first_starts = datetime.combine(date.today() + timedelta(days=2), time(9), ZoneInfo("Europe/Paris")).timestamp()
    clock.advance(first_starts - 86400 + 60 - clock.now())
    assert run(api)["offered"] == 1
    assert status(api, public).body["status"] == "offered"
