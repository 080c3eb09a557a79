"""Staff work (DEVELOPERS.md, "Partners, staff work, audit trail, notifications"): check-in with identity match (R7), no-show, closing slots, fraud signals
(R9) and the audit trail."""
from chalicelib import storage
from chalicelib.platform import clock
from chalicelib.platform.clock import epoch_of
from chalicelib.rules import identity_keys
from tests.support import PROCEDURE, SITE, applicant

AGENT = ("agents",)


def check_in(api, booking, person, groups=AGENT):
    body = {"document": person["document"], "birth_date": person["birth_date"]}
    return api.call("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, api.staff_headers(groups))


def signals(api, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    reply = api.call("GET", f"/staff/signals?{query}", headers=api.staff_headers(AGENT))
    assert reply.status == 200, reply
    return reply.body["signals"]


def history(api, kind, entity_id):
    reply = api.call("GET", f"/staff/{kind}/{entity_id}/history", headers=api.staff_headers(AGENT))
    assert reply.status == 200, reply
    return reply.body["history"]


def test_the_right_person_at_the_counter_is_checked_in(api):
    slots = api.ready_site()
    person = applicant(1)
    booking = api.book(slots[0]["slot_id"], person)
    # The document number as typed at the counter, with spaces, still matches (normalised).
    typed = {**person, "document": {"type": "agdref", "number": "00 0000 0001"}}
    reply = check_in(api, booking, typed)
    assert reply.status == 200, reply
    assert reply.body == {"booking_id": booking["booking_id"], "match": True, "false_urgency": False, "status": "attended"}
    assert api.booking(booking).body["status"] == "attended"
    assert check_in(api, booking, person).status == 409  # once only
    assert signals(api)["checkin_mismatches"] == []


def test_a_check_in_mismatch_refuses_the_appointment_and_is_a_resale_signal(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    buyer = applicant(2)
    reply = check_in(api, booking, buyer)
    assert reply.body == {"booking_id": booking["booking_id"], "match": False, "false_urgency": False, "status": "refused"}
    assert api.booking(booking).body["status"] == "refused"
    found = signals(api)["checkin_mismatches"]
    assert [s["booking_id"] for s in found] == [booking["booking_id"]]
    assert found[0]["site_id"] == SITE
    # The refused slot is not offered again.
    assert slots[0]["slot_id"] not in {s["slot_id"] for s in api.slots()}


def test_a_no_show_is_recorded_only_once_the_appointment_has_started(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    path = f"/staff/bookings/{booking['booking_id']}/no-show"
    assert api.call("POST", path, headers=api.staff_headers(AGENT)).code == "appointment_not_started"
    clock.advance(epoch_of(slots[0]["starts_at"]) - clock.now() + 60)
    reply = api.call("POST", path, headers=api.staff_headers(AGENT))
    assert reply.status == 200 and reply.body["status"] == "no_show"
    assert api.booking(booking).body["status"] == "no_show"
    assert api.call("POST", path, headers=api.staff_headers(AGENT)).status == 409


def test_a_closed_slot_is_never_offered_again_and_frees_its_applicant(api):
    slots = api.ready_site()
    person = applicant(1)
    booking = api.book(slots[0]["slot_id"], person)
    reply = api.call("POST", f"/staff/slots/{slots[0]['slot_id']}/close", headers=api.staff_headers(AGENT))
    assert reply.status == 200, reply
    assert reply.body == {"slot_id": slots[0]["slot_id"], "state": "closed", "booking_id": booking["booking_id"],
                          "booking_status": "closed"}
    assert api.booking(booking).body["status"] == "closed"
    assert api.call("POST", f"/staff/slots/{slots[0]['slot_id']}/close", headers=api.staff_headers(AGENT)).status == 409
    assert slots[0]["slot_id"] not in {s["slot_id"] for s in api.slots()}
    # Not the applicant's fault: no cooldown, no booking lock left behind.
    assert api.book(slots[1]["slot_id"], person)["status"] == "booked"


def test_closing_a_held_or_open_slot(api):
    slots = api.ready_site()
    hold = api.hold(slots[0]["slot_id"], applicant(1)).body
    assert api.call("POST", f"/staff/slots/{slots[0]['slot_id']}/close", headers=api.staff_headers(AGENT)).status == 200
    assert api.confirm(hold).status in (409, 410)
    assert api.hold(slots[1]["slot_id"], applicant(1)).status == 201  # the holder is not stuck
    assert api.call("POST", f"/staff/slots/{slots[2]['slot_id']}/close", headers=api.staff_headers(AGENT)).status == 200
    assert api.hold(slots[2]["slot_id"], applicant(2)).code == "slot_unavailable"
    assert api.call("POST", "/staff/slots/slot_nope/close", headers=api.staff_headers(AGENT)).status == 404


def test_signals_count_identities_behind_an_ip_disposable_mail_and_cooldown_refusals(api):
    api.create_site()
    api.set_policy(cooldown_seconds=3600)
    api.schedule(slot_minutes=30)  # 6 slots
    slots = api.slots()
    holds = [api.hold(slots[i]["slot_id"], applicant(i + 1, email=f"p{i}@yopmail.com" if i < 2 else None),
                      ip="203.0.113.7").body for i in range(3)]
    api.release(holds[0])
    assert api.hold(slots[3]["slot_id"], applicant(1), ip="198.51.100.1").code == "cooldown"
    found = signals(api)
    assert found["identities_per_ip"] == [{"client_ip": "203.0.113.7", "identities": 3, "holds": 3, "requests": 0}]
    assert found["disposable_email_domains"] == [{"domain": "yopmail.com", "holds": 2, "requests": 0}]
    assert found["cooldown_refusals"] == 1


def test_a_schedule_publishes_the_identities_behind_one_ip_as_metrics(api, monkeypatch):
    import app as application
    from chalicelib.platform import observability

    published = []
    monkeypatch.setattr(observability, "_emit", published.extend)
    api.create_site()
    api.schedule(slot_minutes=20)  # 9 slots
    partner = api.create_partner()
    slots = api.slots()
    for i in range(4):
        assert api.hold(slots[i]["slot_id"], applicant(i + 1), ip="203.0.113.7").status == 201
    assert api.hold(slots[4]["slot_id"], applicant(5), ip="198.51.100.1").status == 201
    for i in range(5, 8):  # a partner holding for its beneficiaries from its servers is no signal
        body = {"slot_id": slots[i]["slot_id"], "applicant": applicant(i + 1)}
        headers = {**api.partner_headers(partner), "X-Forwarded-For": "198.51.100.1"}
        assert api.call("POST", "/partner/holds", body, headers).status == 201
    published.clear()
    event = api.transport.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                    resources=[])
    application.publish_signal_metrics(event, None)
    assert published == [("IdentitiesPerIpMax", 4.0, {}), ("IpsWithManyIdentities", 1.0, {})]


def test_signals_flag_a_partner_that_cancels_much(api):
    api.create_site()
    api.schedule(slot_minutes=30)
    partner = api.create_partner()
    slots = api.partner_slots(partner)
    bookings = [api.partner_book(partner, slots[i]["slot_id"], applicant(i + 1)) for i in range(5)]
    for b in bookings[:2]:
        assert api.partner_cancel(partner, b["booking_id"]).status == 204
    found = signals(api)["partner_cancellations"]
    assert found == [{"partner_id": partner["partner_id"], "booked": 5, "cancelled": 2, "rate": 0.4}]


def test_the_audit_trail_of_a_booking_from_hold_to_check_in_is_complete(api):
    slots = api.ready_site()
    partner = api.create_partner()
    person = applicant(1)
    hold = api.partner_hold(partner, slots[0]["slot_id"], person).body
    booking = api.partner_confirm(partner, hold).body
    check_in(api, booking, person)
    entries = history(api, "bookings", booking["booking_id"])
    assert [e["action"] for e in entries] == ["hold_taken", "hold_confirmed", "booked", "checked_in"]
    assert [e["actor"] for e in entries] == [f"partner:{partner['partner_id']}"] * 3 + ["staff:tester"]
    assert all(e["at"].endswith("Z") for e in entries)
    slot_entries = history(api, "slots", slots[0]["slot_id"])
    assert [e["action"] for e in slot_entries] == ["hold_taken", "booked", "attended"]


def test_the_audit_trail_names_the_identity_and_ip_of_public_changes(api):
    slots = api.ready_site()
    hold = api.hold(slots[0]["slot_id"], applicant(1), ip="192.0.2.10").body
    booking = api.confirm(hold).body
    api.cancel(booking)
    entries = history(api, "bookings", booking["booking_id"])
    assert [e["action"] for e in entries] == ["hold_taken", "hold_confirmed", "booked", "cancelled"]
    assert entries[0]["client_ip"] == "192.0.2.10"
    # Staff see a short per-site pseudonym, the same for one person, never the identity key.
    assert {e["actor"] for e in entries} == {identity_keys.actor_pseudonym(storage.get_booking(booking["booking_id"]).identity_key, SITE)}
    assert entries[0]["actor"].startswith("applicant:") and len(entries[0]["actor"]) == len("applicant:") + 12
    slot_entries = history(api, "slots", slots[0]["slot_id"])
    assert [e["action"] for e in slot_entries] == ["hold_taken", "booked", "cancelled"]
    assert {e["actor"] for e in slot_entries} == {entries[0]["actor"]}
    assert identity_keys.actor_pseudonym("k", SITE) != identity_keys.actor_pseudonym("k", "another-site")
    assert api.call("GET", "/staff/bookings/bkg_nope/history", headers=api.staff_headers(AGENT)).status == 404


def test_agents_do_day_to_day_work_and_need_a_token(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    for method, path in [("POST", f"/staff/bookings/{booking['booking_id']}/no-show"),
                         ("POST", f"/staff/slots/{slots[1]['slot_id']}/close"), ("GET", "/staff/signals"),
                         ("GET", f"/staff/bookings/{booking['booking_id']}/history")]:
        assert api.call(method, path).status == 401
    assert api.call("GET", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", headers=api.staff_headers(AGENT)).status == 200


def test_no_staff_or_partner_path_scans(api, calls):
    slots = api.ready_site()
    partner = api.create_partner()
    booking = api.partner_book(partner, slots[0]["slot_id"], applicant(1))
    api.partner_bookings(partner)
    api.partner_slots(partner)
    check_in(api, booking, applicant(2))
    api.call("POST", f"/staff/slots/{slots[1]['slot_id']}/close", headers=api.staff_headers(AGENT))
    signals(api)
    history(api, "bookings", booking["booking_id"])
    api.call("GET", "/staff/partners", headers=api.staff_headers())
    api.revoke_partner(partner)
    assert calls and "Scan" not in calls


def test_check_in_input_is_validated_naming_the_field(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    path = f"/staff/bookings/{booking['booking_id']}/check-in"
    for body, field in [({"document": {"type": "agdref", "number": "12"}, "birth_date": "1990-01-02"}, "document.number"),
                        ({"document": {"type": "id", "number": "1234567890"}, "birth_date": "1990-01-02"}, "document.type"),
                        ({"document": {"type": "agdref", "number": "0000000001"}, "birth_date": "02/01/1990"}, "birth_date")]:
        reply = api.call("POST", path, body, api.staff_headers(AGENT))
        assert reply.status == 422 and reply.body["error"]["details"] == {"field": field}, reply
    assert api.call("POST", "/staff/bookings/bkg_nope/check-in",
                    {"document": {"type": "agdref", "number": "0000000001"}, "birth_date": "1990-01-02"},
                    api.staff_headers(AGENT)).status == 404
