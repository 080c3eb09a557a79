"""The doors beside public search (SPEC R5, R8, R11): refused standby requests are cheap and
counted, partner requests count on the partner's quota."""
from datetime import date, timedelta

from tests.support import PROCEDURE, SITE, applicant, at_the_wire

AUTO = {"allocation": "auto", "max_holds_per_ip_per_hour": 3}


def _request_body(n):
    return {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(n),
            "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}


def _items_read(monkeypatch):
    """Items DynamoDB evaluated for the Queries made from now on (ScannedCount, before filters)."""
    read = []

    def counting(send, service, operation, params):
        answer = send()
        if service == "dynamodb" and operation == "Query":
            read.append(answer.get("ScannedCount", 0))
        return answer

    at_the_wire(monkeypatch, counting)
    return read


def test_a_standby_request_refused_because_slots_are_free_reads_one_page_not_the_range(api, monkeypatch):
    api.create_site()
    api.set_policy(**AUTO)
    assert api.schedule(days=10, slot_minutes=15, counters=3) == 10 * 12 * 3
    read = _items_read(monkeypatch)
    refused = api.call("POST", "/requests", _request_body(1))
    assert refused.status == 409 and refused.code == "slots_available"
    assert 0 < sum(read) <= 100, read  # one page of the search index, not its 360 slots


def test_every_refused_standby_request_counts_against_the_network_s_hourly_limit(api):
    api.ready_site(**AUTO)
    answers = [api.call("POST", "/requests", _request_body(n), headers={"X-Forwarded-For": "203.0.113.9"}) for n in range(5)]
    assert [(a.status, a.code) for a in answers] == [(409, "slots_available")] * 3 + [(429, "rate_limited")] * 2
    assert answers[-1].headers.get("retry-after")
    other = api.call("POST", "/requests", _request_body(9), headers={"X-Forwarded-For": "203.0.113.10"})
    assert other.code == "slots_available"  # another network is not limited by this one


def _empty_auto_site(api):
    """A site whose only procedure has no slot: every standby request is accepted on its merits."""
    api.create_site()
    api.set_policy(allocation="auto")


def test_partner_requests_count_on_the_partner_s_daily_quota(api):
    _empty_auto_site(api)
    partner = api.create_partner(daily_quota=2)
    filed = [api.call("POST", "/partner/requests", _request_body(n), headers=api.partner_headers(partner)) for n in range(4)]
    assert [f.status for f in filed] == [201, 201, 429, 429]
    assert filed[2].code == "partner_quota_exceeded" and filed[2].headers.get("retry-after")


def test_a_partner_s_holds_and_requests_share_one_quota(api):
    slots = api.ready_site(allocation="auto")
    partner = api.create_partner(daily_quota=2)
    assert api.partner_hold(partner, slots[0]["slot_id"], applicant(1)).status == 201
    assert api.partner_hold(partner, slots[1]["slot_id"], applicant(2)).status == 201
    refused = api.call("POST", "/partner/requests", {**_request_body(3), "from": (date.today() + timedelta(days=20)).isoformat()},
                       headers=api.partner_headers(partner))
    assert refused.status == 429 and refused.code == "partner_quota_exceeded"


def test_a_partner_key_acts_only_on_the_sites_it_was_created_for(api):
    slots = api.ready_site()
    api.create_site("other-site")
    api.set_policy("other-site", allocation="auto")
    theirs = api.create_partner(sites=("other-site",))
    mine = api.create_partner("Mine")
    headers = api.partner_headers(theirs)
    search = api.call("GET", f"/partner/sites/{SITE}/slots?procedure={PROCEDURE}", headers=headers)
    hold = api.partner_hold(theirs, slots[0]["slot_id"], applicant(1))
    request = api.call("POST", "/partner/requests", _request_body(2), headers=headers)
    assert [(r.status, r.code) for r in (search, hold, request)] == [(403, "forbidden_site")] * 3
    assert api.partner_hold(mine, slots[0]["slot_id"], applicant(1)).status == 201  # nothing was written by the refusals
    assert api.call("POST", "/partner/requests", {**_request_body(3), "site_id": "other-site"}, headers=headers).status == 201


def test_a_partner_is_created_for_sites_that_exist(api):
    api.create_site()
    missing = api.call("POST", "/staff/partners", {"name": "x", "daily_quota": 5, "sites": ["nowhere"]}, api.staff_headers())
    none = api.call("POST", "/staff/partners", {"name": "x", "daily_quota": 5, "sites": []}, api.staff_headers())
    assert (missing.status, missing.code) == (404, "site_not_found")
    assert none.status == 422 and none.body["error"]["details"] == {"field": "sites"}
    listed = api.call("GET", "/staff/partners", headers=api.staff_headers()).body["partners"]
    assert listed == []
    created = api.create_partner(sites=(SITE, SITE))
    assert api.call("GET", "/staff/partners", headers=api.staff_headers()).body["partners"][0]["sites"] == [SITE]
    assert created["sites"] == [SITE]


def test_withdrawing_the_covering_request_releases_nothing_at_that_instant(api):
    """R5: fresh slots kept from search by a standby request do not appear when it is withdrawn."""
    from chalicelib.platform import clock

    api.create_site()
    api.set_policy(allocation="auto", publish_window_seconds=600, quarantine_min_seconds=1800, quarantine_max_seconds=3600)
    created = api.schedule(publish="random_window")
    filed = api.call("POST", "/requests", _request_body(1))
    assert filed.status == 201, filed
    clock.advance(601)  # every publication instant has passed: the request keeps them from search
    assert api.slots() == []
    slot_ids = [s.slot_id for s in __import__("chalicelib.storage.models", fromlist=["Slot"]).Slot.scan()]
    withdrawn = api.call("DELETE", f"/requests/{filed.body['request_id']}", headers={"X-Request-Token": filed.body["request_token"]})
    assert withdrawn.status == 204
    assert api.slots() == []  # the buyer polling at the withdrawal instant finds nothing
    assert {api.hold(slot_id, applicant(50 + n)).code for n, slot_id in enumerate(slot_ids)} == {"slot_unavailable"}
    clock.advance(3601)
    assert len(api.slots()) == created  # back at random instants of the release window


def _reserved_and_public(api, **policy):
    from tests.api.test_partners import partner_site

    partner_site(api, **policy)
    partner = api.create_partner()
    public = {s["slot_id"] for s in api.slots()}
    reserved = [s["slot_id"] for s in api.partner_slots(partner) if s["slot_id"] not in public]
    assert len(reserved) == 1
    return partner, reserved[0], sorted(public)


def test_a_reserved_slot_a_partner_cancels_is_no_partner_s_any_more(api):
    """The transfer through search: book a reserved slot for a made-up name, cancel, hold for the buyer."""
    from chalicelib.platform import clock

    partner, reserved, _ = _reserved_and_public(api, quarantine_min_seconds=100, quarantine_max_seconds=200)
    booking = api.partner_book(partner, reserved, applicant(1))
    assert api.partner_cancel(partner, booking["booking_id"]).status == 204
    clock.advance(201)
    assert reserved in {s["slot_id"] for s in api.slots()}  # the public sees it, as any freed slot
    assert api.hold(reserved, applicant(2)).status == 201


def test_a_reserved_slot_a_partner_lets_lapse_is_no_partner_s_any_more(api):
    from chalicelib.platform import clock

    partner, reserved, _ = _reserved_and_public(api, hold_ttl_seconds=60, quarantine_min_seconds=100, quarantine_max_seconds=200)
    assert api.partner_hold(partner, reserved, applicant(1)).status == 201
    clock.advance(60 + 201)
    assert api.hold(reserved, applicant(2)).status == 201


def test_a_reserved_slot_freed_while_someone_waits_goes_to_the_public_draw(api):
    """The transfer through a draw: a freed reserved slot is not kept for partner requests."""
    partner, reserved, public = _reserved_and_public(api, draw_interval_seconds=3600, offer_ttl_seconds=600)
    for n, slot_id in enumerate(public):
        api.book(slot_id, applicant(10 + n))
    booking = api.partner_book(partner, reserved, applicant(1))
    waiting = api.call("POST", "/requests", _request_body(2))
    assert waiting.status == 201, waiting
    assert api.partner_cancel(partner, booking["booking_id"]).status == 204
    drawn = api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=api.staff_headers())
    assert drawn.status == 200 and drawn.body["offered"] == 1, drawn
    status = api.call("GET", f"/requests/{waiting.body['request_id']}", headers={"X-Request-Token": waiting.body["request_token"]})
    assert status.body["status"] == "offered" and status.body["hold"]["slot"]["slot_id"] == reserved


def test_a_partner_s_cancellation_uses_its_quota(api):
    """Freeing a slot to take it again costs the partner: book, cancel, and the day's quota is used up."""
    slots = api.ready_site()
    partner = api.create_partner(daily_quota=2)
    booking = api.partner_book(partner, slots[0]["slot_id"], applicant(1))
    assert api.partner_cancel(partner, booking["booking_id"]).status == 204  # never refused for the quota
    again = api.partner_hold(partner, slots[1]["slot_id"], applicant(2))
    assert (again.status, again.code) == (429, "partner_quota_exceeded")


def test_what_each_partner_key_does_reaches_the_staff_signals(api):
    slots = api.ready_site()
    api.set_policy(allocation="auto")
    partner = api.create_partner(daily_quota=50)
    for n, slot in enumerate(slots[:2]):
        api.partner_book(partner, slot["slot_id"], applicant(n))
    cancelled = api.partner_bookings(partner).body["bookings"][0]["booking_id"]
    assert api.partner_cancel(partner, cancelled).status == 204
    urgent = {**_request_body(7), "permit_expires_on": (date.today() + timedelta(days=10)).isoformat(),
              "from": (date.today() + timedelta(days=20)).isoformat()}
    assert api.call("POST", "/partner/requests", urgent, headers=api.partner_headers(partner)).status == 201
    signals = api.call("GET", "/staff/signals", headers=api.staff_headers(("agents",))).body["signals"]
    assert signals["partners"] == [{"partner_id": partner["partner_id"], "identities": 3, "holds": 2, "requests": 1, "urgent": 1,
                                    "booked": 2, "cancelled": 1, "lapsed": 0}]


def test_no_address_gets_more_than_one_acknowledgement_a_day(api, tmp_path, monkeypatch):
    """25 requests filed by a partner with one victim's address: one e-mail, not 25."""
    from chalicelib.platform import clock
    from tests.support import messages

    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path))
    _empty_auto_site(api)
    partner = api.create_partner(daily_quota=100)
    for n in range(5):
        body = {**_request_body(n), "applicant": applicant(n, email="victim@example.org")}
        assert api.call("POST", "/partner/requests", body, headers=api.partner_headers(partner)).status == 201
    # One acknowledgement of the requests, and one notice that an association acted in their name.
    assert sorted("notice" if name.startswith("partner-notice") else "acknowledgement" for name in messages(tmp_path)) == [
        "acknowledgement", "notice"]
    clock.advance(86400)
    body = {**_request_body(9), "applicant": applicant(9, email="victim@example.org")}
    assert api.call("POST", "/requests", body).status == 201
    assert len(messages(tmp_path)) == 3  # the next day, one more acknowledgement


def test_a_partner_hold_left_to_lapse_is_a_signal_of_that_partner(api):
    """R9: a lapse writes nothing when it happens; the transaction that takes the slot next counts it."""
    from chalicelib.platform import clock

    partner, reserved, _ = _reserved_and_public(api, hold_ttl_seconds=60, quarantine_min_seconds=100, quarantine_max_seconds=200)
    assert api.partner_hold(partner, reserved, applicant(1)).status == 201
    clock.advance(60 + 201)
    assert api.hold(reserved, applicant(2)).status == 201
    signals = api.call("GET", "/staff/signals", headers=api.staff_headers(("agents",))).body["signals"]
    assert [(p["partner_id"], p["lapsed"]) for p in signals["partners"]] == [(partner["partner_id"], 1)]
