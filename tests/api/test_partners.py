"""Partners (DEVELOPERS.md, "Partners, staff work, audit trail, notifications"): API keys, their own bookings, the daily quota and the reserved share."""
from chalicelib.platform import clock
from chalicelib.platform.clock import epoch_of
from tests.support import PROCEDURE, SITE, applicant


def partner_site(api, share=1 / 3, lead=3600, **policy):
    api.create_site()
    api.set_policy(partner_share=share, partner_release_lead_seconds=lead, **policy)
    api.schedule()  # 3 hourly slots, one of them reserved to partners
    return api


def test_a_partner_key_is_shown_once_and_stored_hashed(api):
    api.create_site()
    partner = api.create_partner()
    assert partner["api_key"] and len(partner["api_key"]) >= 40
    listed = api.call("GET", "/staff/partners", headers=api.staff_headers()).body["partners"]
    assert [p["partner_id"] for p in listed] == [partner["partner_id"]]
    assert "api_key" not in listed[0] and partner["api_key"] not in str(listed)


def test_partner_routes_need_a_valid_key(api):
    partner_site(api)
    assert api.call("GET", "/partner/bookings").status == 401
    refused = api.call("GET", "/partner/bookings", headers={"x-api-key": "fsk_" + "x" * 43})
    assert (refused.status, refused.code) == (401, "unauthorized")  # SPEC §5: bad credentials


def test_a_revoked_key_is_refused_at_once(api):
    partner_site(api)
    partner = api.create_partner()
    assert api.partner_bookings(partner).status == 200
    assert api.revoke_partner(partner).status == 204
    refused = api.partner_bookings(partner)
    assert refused.status == 401, refused
    assert api.partner_hold(partner, api.partner_slots(api.create_partner("other"))[0]["slot_id"], applicant(1)).status == 401
    assert api.revoke_partner(partner).status == 409
    listed = api.call("GET", "/staff/partners", headers=api.staff_headers()).body["partners"]
    assert {p["partner_id"]: p["status"] for p in listed}[partner["partner_id"]] == "revoked"


def test_only_admins_manage_partners(api):
    agent = api.staff_headers(groups=("agents",))
    assert api.call("POST", "/staff/partners", {"name": "x", "daily_quota": 1, "sites": [SITE]}, agent).status == 403
    assert api.call("GET", "/staff/partners", headers=agent).status == 403


def test_a_partner_books_for_a_beneficiary_bound_by_the_same_rules(api):
    partner_site(api)
    partner = api.create_partner()
    slots = api.partner_slots(partner)
    person = applicant(1)
    booking = api.partner_book(partner, slots[0]["slot_id"], person)
    assert booking["status"] == "booked"
    # R2: the beneficiary cannot book the same procedure again, through the partner or alone.
    assert api.partner_hold(partner, slots[1]["slot_id"], person).code == "booking_already_active"
    public = [s["slot_id"] for s in api.slots() if s["slot_id"] != slots[0]["slot_id"]]  # not the partners' share
    assert api.hold(public[0], person).code == "booking_already_active"
    # R4: a partner's cancellation puts the beneficiary into cooldown like anyone else.
    assert api.partner_cancel(partner, booking["booking_id"]).status == 204
    assert api.hold(public[0], person).status == 429  # a slot the public may hold: the cooldown answers


def test_a_partner_sees_and_cancels_only_its_own_bookings(api):
    partner_site(api, share=0)
    mine, theirs = api.create_partner("mine"), api.create_partner("theirs")
    slots = api.partner_slots(mine)
    my_booking = api.partner_book(mine, slots[0]["slot_id"], applicant(1))
    their_hold = api.partner_hold(theirs, slots[1]["slot_id"], applicant(2)).body
    assert api.partner_confirm(mine, their_hold).status == 403  # not its hold, token or not
    their_booking = api.partner_confirm(theirs, their_hold).body
    public = api.book(slots[2]["slot_id"], applicant(3))

    listed = api.partner_bookings(mine).body["bookings"]
    assert [b["booking_id"] for b in listed] == [my_booking["booking_id"]]
    assert listed[0]["slot"]["slot_id"] == slots[0]["slot_id"]
    assert api.partner_cancel(mine, their_booking["booking_id"]).status == 404
    assert api.partner_cancel(mine, public["booking_id"]).status == 404
    assert api.booking(their_booking).body["status"] == "booked"
    assert api.booking(public).body["status"] == "booked"
    assert api.partner_cancel(mine, my_booking["booking_id"]).status == 204
    assert api.partner_bookings(mine).body["bookings"][0]["status"] == "cancelled"
    assert api.partner_cancel(mine, my_booking["booking_id"]).status == 409


def test_the_reserved_share_is_invisible_to_the_public_and_released_in_its_window(api):
    partner_site(api, share=1 / 3, lead=3600)
    partner = api.create_partner()
    public_ids = {s["slot_id"] for s in api.slots()}
    partner_slots = api.partner_slots(partner)
    reserved = [s for s in partner_slots if s["slot_id"] not in public_ids]
    assert len(partner_slots) == 3 and len(public_ids) == 2 and len(reserved) == 1
    reserved = reserved[0]
    # Not holdable by the public either, whatever the client knows.
    assert api.hold(reserved["slot_id"], applicant(1)).code == "slot_unavailable"
    # Released to the public at a random instant of the window ending at the lead time.
    window = api.call("GET", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy",
                      headers=api.staff_headers()).body["release_window_min_seconds"]
    latest = epoch_of(reserved["starts_at"]) - 3600
    clock.advance(latest - window - clock.now() - 5)
    assert reserved["slot_id"] not in {s["slot_id"] for s in api.slots()}
    clock.advance(window + 10)
    assert reserved["slot_id"] in {s["slot_id"] for s in api.slots()}
    assert api.hold(reserved["slot_id"], applicant(1)).status == 201


def test_a_partner_can_hold_the_reserved_share(api):
    partner_site(api, share=1.0, lead=3600)
    partner = api.create_partner()
    assert api.slots() == []
    slot = api.partner_slots(partner)[0]
    assert api.partner_book(partner, slot["slot_id"], applicant(1))["status"] == "booked"


def test_the_partner_share_is_a_rounded_share_of_each_day(api):
    api.create_site()
    api.set_policy(partner_share=0.25, partner_release_lead_seconds=3600)
    api.schedule(days=2, slot_minutes=15, counters=2)  # 24 slots a day: 6 reserved each day
    partner = api.create_partner()
    public = {s["slot_id"] for s in api.slots(limit=100)}
    everything = api.partner_slots(partner)
    assert len(everything) == 48 and len(public) == 36
    per_day = {}
    for s in everything:
        if s["slot_id"] not in public:
            per_day[s["starts_at"][:10]] = per_day.get(s["starts_at"][:10], 0) + 1
    assert sorted(per_day.values()) == [6, 6]


def test_the_daily_quota_is_enforced_with_retry_after(api):
    partner_site(api, share=0)
    partner = api.create_partner(daily_quota=2)
    slots = api.partner_slots(partner)
    assert api.partner_hold(partner, slots[0]["slot_id"], applicant(1)).status == 201
    assert api.partner_hold(partner, slots[1]["slot_id"], applicant(2)).status == 201
    refused = api.partner_hold(partner, slots[2]["slot_id"], applicant(3))
    assert refused.status == 429 and refused.code == "partner_quota_exceeded"
    assert 0 < int(refused.headers["retry-after"]) <= 86400
    # Another partner has its own quota; the next day the quota starts again.
    assert api.partner_hold(api.create_partner("other"), slots[2]["slot_id"], applicant(3)).status == 201
    clock.advance(86400)
    assert api.partner_hold(partner, slots[0]["slot_id"], applicant(5)).status == 201


def test_partner_policy_field_is_validated(api):
    api.create_site()
    reply = api.call("PUT", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", {"partner_release_lead_seconds": -1},
                     api.staff_headers())
    assert reply.status == 422 and reply.body["error"]["details"] == {"field": "partner_release_lead_seconds"}


def test_creating_and_revoking_a_partner_is_audited(api):
    api.create_site()
    partner = api.create_partner()
    api.revoke_partner(partner)
    reply = api.call("GET", f"/staff/partners/{partner['partner_id']}/history", headers=api.staff_headers())
    assert [(e["action"], e["actor"]) for e in reply.body["history"]] == [("partner_created", "staff:tester"),
                                                                          ("partner_revoked", "staff:tester")]


def test_a_partner_confirming_its_hold_again_gets_the_same_booking(api):
    partner = partner_site(api).create_partner()
    hold = api.partner_hold(partner, api.partner_slots(partner)[0]["slot_id"], applicant(1)).body
    first, second = api.partner_confirm(partner, hold), api.partner_confirm(partner, hold)
    assert (first.status, second.status) == (201, 200)
    assert first.body == second.body
