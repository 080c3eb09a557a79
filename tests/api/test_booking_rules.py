"""The booking core through the API, in process, on the serialized engine (SPEC §4, §5)."""
from datetime import date, timedelta

from chalicelib.platform import clock
from tests.support import PROCEDURE, SITE, applicant

SHORT = {"hold_ttl_seconds": 60, "quarantine_min_seconds": 100, "quarantine_max_seconds": 200, "cooldown_seconds": 1000}


def test_hold_confirm_read_and_cancel_a_booking(api):
    slot = api.ready_site()[0]
    hold = api.hold(slot["slot_id"], applicant(1))
    assert hold.status == 201, hold
    assert set(hold.body) == {"hold_id", "hold_token", "expires_at", "slot"}
    assert hold.body["slot"] == slot
    booking = api.confirm(hold.body)
    assert booking.status == 201
    assert booking.body["status"] == "booked" and booking.body["reference"].startswith("FS-")
    read = api.booking(booking.body)
    assert read.status == 200 and read.body["status"] == "booked" and "booking_token" not in read.body
    assert api.cancel(booking.body).status == 204
    assert api.booking(booking.body).body["status"] == "cancelled"
    assert api.cancel(booking.body).code == "booking_not_active"


def test_confirming_the_same_hold_twice_returns_the_same_booking(api):
    slot = api.ready_site()[0]
    hold = api.hold(slot["slot_id"], applicant(1)).body
    first, second = api.confirm(hold), api.confirm(hold)
    assert first.status == 201 and second.status == 200
    assert first.body == second.body


def test_a_held_or_booked_slot_leaves_the_search(api):
    slots = api.ready_site()
    hold = api.hold(slots[0]["slot_id"], applicant(1)).body
    assert slots[0] not in api.slots()
    api.confirm(hold)
    assert slots[0] not in api.slots()
    assert slots[1] in api.slots()


def test_any_number_of_holds_on_one_slot_give_one_winner(api):
    slot = api.ready_site()[0]
    replies = [api.hold(slot["slot_id"], applicant(n)) for n in range(5)]
    assert [r.status for r in replies] == [201, 409, 409, 409, 409]
    assert {r.code for r in replies[1:]} == {"slot_unavailable"}


# --- R3 quarantine: the trick itself --------------------------------------------------------

def _assert_quarantined_then_free(api, slot_id, newcomer):
    refused = api.hold(slot_id, newcomer)
    assert refused.status == 409 and refused.code == "slot_unavailable"
    assert "retry-after" not in refused.headers  # nothing about the slot's timing is revealed
    assert slot_id not in [s["slot_id"] for s in api.slots()]
    clock.advance(SHORT["quarantine_max_seconds"] + 1)
    assert slot_id in [s["slot_id"] for s in api.slots()]
    assert api.hold(slot_id, newcomer).status == 201


def test_a_cancelled_slot_cannot_be_rebooked_at_once_by_the_buyer(api):
    slot = api.ready_site(**SHORT)[0]
    booking = api.confirm(api.hold(slot["slot_id"], applicant(1)).body).body
    assert api.cancel(booking).status == 204
    _assert_quarantined_then_free(api, slot["slot_id"], applicant(2))


def test_a_released_slot_cannot_be_reheld_at_once_by_the_buyer(api):
    slot = api.ready_site(**SHORT)[0]
    hold = api.hold(slot["slot_id"], applicant(1)).body
    assert api.release(hold).status == 204
    _assert_quarantined_then_free(api, slot["slot_id"], applicant(2))


def test_an_expired_hold_frees_its_slot_only_after_a_quarantine(api):
    slot = api.ready_site(**SHORT)[0]
    api.hold(slot["slot_id"], applicant(1))
    clock.advance(SHORT["hold_ttl_seconds"] + 1)
    _assert_quarantined_then_free(api, slot["slot_id"], applicant(2))


def test_the_quarantine_instant_is_random_within_the_policy(api):
    slots = api.ready_site(**SHORT)
    for n, slot in enumerate(slots):
        api.release(api.hold(slot["slot_id"], applicant(10 + n)).body)
    clock.advance(SHORT["quarantine_min_seconds"] - 1)
    assert api.slots() == []
    clock.advance(SHORT["quarantine_max_seconds"] - SHORT["quarantine_min_seconds"] + 2)
    assert len(api.slots()) == len(slots)


# --- R4 cooldown ----------------------------------------------------------------------------

def _assert_cooldown(api, person, free_slot_id):
    refused = api.hold(free_slot_id, person)
    assert refused.status == 429 and refused.code == "cooldown"
    wait = int(refused.headers["retry-after"])
    assert 0 < wait <= SHORT["cooldown_seconds"] + SHORT["hold_ttl_seconds"] + 3600  # to the next whole hour
    clock.advance(wait + 1)
    assert api.hold(free_slot_id, person).status == 201


def test_cancelling_starts_a_cooldown_for_that_identity(api):
    slots = api.ready_site(**SHORT)
    booking = api.confirm(api.hold(slots[0]["slot_id"], applicant(1)).body).body
    api.cancel(booking)
    _assert_cooldown(api, applicant(1), slots[1]["slot_id"])


def test_releasing_a_hold_starts_a_cooldown(api):
    slots = api.ready_site(**SHORT)
    api.release(api.hold(slots[0]["slot_id"], applicant(1)).body)
    _assert_cooldown(api, applicant(1), slots[1]["slot_id"])


def test_letting_a_hold_expire_starts_a_cooldown(api):
    slots = api.ready_site(**SHORT)
    api.hold(slots[0]["slot_id"], applicant(1))
    clock.advance(SHORT["hold_ttl_seconds"] + 1)
    _assert_cooldown(api, applicant(1), slots[1]["slot_id"])


def test_the_cooldown_follows_the_person_whatever_the_document_formatting(api):
    slots = api.ready_site(**SHORT)
    api.release(api.hold(slots[0]["slot_id"], applicant(1)).body)
    again = applicant(1)
    again["document"]["number"] = "00 000 000 01"
    again["family_name"] = "Another Name"
    assert api.hold(slots[1]["slot_id"], again).code == "cooldown"


def test_a_cooldown_refusal_reveals_nothing_about_the_slot(api):
    """The slot just freed answers like any slot that cannot be held (no Retry-After at all), a
    free one with the identity's own wait."""
    slots = api.ready_site(**SHORT)
    api.release(api.hold(slots[0]["slot_id"], applicant(1)).body)
    on_freed = api.hold(slots[0]["slot_id"], applicant(1))
    on_other = api.hold(slots[1]["slot_id"], applicant(1))
    assert on_freed.code == "slot_unavailable" and "retry-after" not in on_freed.headers
    assert on_other.code == "cooldown" and int(on_other.headers["retry-after"]) > 0


# --- R2 one at a time -----------------------------------------------------------------------

def test_one_active_hold_per_identity(api):
    slots = api.ready_site()
    assert api.hold(slots[0]["slot_id"], applicant(1)).status == 201
    second = api.hold(slots[1]["slot_id"], applicant(1))
    assert second.status == 409 and second.code == "hold_already_active"


def test_one_active_booking_per_identity_and_procedure(api):
    slots = api.ready_site()
    api.confirm(api.hold(slots[0]["slot_id"], applicant(1)).body)
    second = api.hold(slots[1]["slot_id"], applicant(1))
    assert second.status == 409 and second.code == "booking_already_active"


def test_a_booking_for_another_procedure_is_allowed(api):
    api.create_site(procedures=("renewal", "student"))
    api.schedule(procedure="renewal")
    api.schedule(procedure="student")
    api.confirm(api.hold(api.slots(procedure="renewal")[0]["slot_id"], applicant(1)).body)
    assert api.hold(api.slots(procedure="student")[0]["slot_id"], applicant(1)).status == 201


# --- R8 per-IP limit ------------------------------------------------------------------------

def test_holds_per_ip_are_limited_per_hour(api):
    api.create_site()
    api.set_policy(max_holds_per_ip_per_hour=2)
    api.schedule(slot_minutes=30)
    slots = api.slots()
    assert api.hold(slots[0]["slot_id"], applicant(1)).status == 201
    assert api.hold(slots[1]["slot_id"], applicant(2)).status == 201
    third = api.hold(slots[2]["slot_id"], applicant(3))
    assert third.status == 429 and third.code == "rate_limited"
    assert 0 < int(third.headers["retry-after"]) <= 3600
    clock.advance(3600)
    assert api.hold(slots[2]["slot_id"], applicant(3)).status == 201


# --- expiry and state changes ---------------------------------------------------------------

def test_an_expired_hold_cannot_be_confirmed(api):
    slot = api.ready_site(**SHORT)[0]
    hold = api.hold(slot["slot_id"], applicant(1)).body
    clock.advance(SHORT["hold_ttl_seconds"] + 1)
    late = api.confirm(hold)
    assert late.status == 410 and late.code == "hold_expired"
    assert api.release(hold).status == 410


def test_a_released_hold_cannot_be_confirmed(api):
    slot = api.ready_site()[0]
    hold = api.hold(slot["slot_id"], applicant(1)).body
    api.release(hold)
    assert api.confirm(hold).status == 409


def test_tokens_are_required_and_checked(api):
    slot = api.ready_site()[0]
    hold = api.hold(slot["slot_id"], applicant(1)).body
    assert api.confirm({**hold, "hold_token": "x" * 43}).status == 401
    assert api.call("DELETE", f"/holds/{hold['hold_id']}").status == 401
    booking = api.confirm(hold).body
    assert api.booking({**booking, "booking_token": "nope"}).status == 401
    assert api.cancel({**booking, "booking_token": "nope"}).status == 401
    assert api.booking(booking).status == 200


def test_the_raw_document_number_is_never_stored(api, engine):
    import boto3

    slot = api.ready_site()[0]
    person = applicant(987654321)
    api.confirm(api.hold(slot["slot_id"], person).body)
    client = boto3.client("dynamodb", region_name="eu-west-3")
    dump = ""
    for table in client.list_tables()["TableNames"]:
        dump += str(client.scan(TableName=table)["Items"])
    assert person["document"]["number"] not in dump
    assert person["family_name"] in dump  # the dump did include the booking


def test_slots_keep_no_identity_key_once_a_hold_or_booking_is_gone(api, engine):
    """Slots have no TTL: after each way a hold or booking ends, no identity key is left on them
    (what R6 needs is a per-slot tag, domain.slot_tag). Same family as the dump above."""
    import boto3

    from chalicelib.platform import clock
    from chalicelib.platform.clock import epoch_of

    api.create_site(procedures=(PROCEDURE, "lottery"))
    api.set_policy(quarantine_min_seconds=60, quarantine_max_seconds=120)
    api.set_policy(procedure="lottery", allocation="draw", offer_ttl_seconds=600)
    api.schedule(counters=4)
    api.schedule(procedure="lottery", counters=2)
    slots = api.slots()
    staff = api.staff_headers(("agents",))
    people = iter(range(1, 100))

    def person():
        return applicant(next(people))

    api.release(api.hold(slots[0]["slot_id"], person()).body)  # released
    api.hold(slots[1]["slot_id"], person())  # left to expire (below)
    api.cancel(api.book(slots[2]["slot_id"], person()))  # cancelled
    api.hold(slots[3]["slot_id"], person())
    api.call("POST", f"/staff/slots/{slots[3]['slot_id']}/close", headers=staff)  # held, then closed
    booked = api.book(slots[4]["slot_id"], person())
    api.call("POST", f"/staff/slots/{slots[4]['slot_id']}/close", headers=staff)  # booked, then closed
    attended_by = person()
    attended = api.book(slots[5]["slot_id"], attended_by)
    api.call("POST", f"/staff/bookings/{attended['booking_id']}/check-in",
             {"document": attended_by["document"], "birth_date": attended_by["birth_date"]}, staff)
    refused = api.book(slots[6]["slot_id"], person())
    other = person()
    api.call("POST", f"/staff/bookings/{refused['booking_id']}/check-in",
             {"document": other["document"], "birth_date": other["birth_date"]}, staff)
    absent = api.book(slots[7]["slot_id"], person())
    requests = []
    for _ in range(2):
        body = {"site_id": SITE, "procedure_id": "lottery", "applicant": person(),
                "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
        requests.append(api.call("POST", "/requests", body).body)
    assert api.call("POST", f"/staff/sites/{SITE}/procedures/lottery/draws", {"reason": "test"}, headers=api.staff_headers()).status == 200
    withdrawn = requests[0]  # an offer given back; the other offer is left to expire
    assert api.call("DELETE", f"/requests/{withdrawn['request_id']}", headers={"X-Request-Token": withdrawn["request_token"]}).status == 204
    clock.advance(epoch_of(slots[7]["starts_at"]) - clock.now() + 60)
    assert api.call("POST", f"/staff/bookings/{absent['booking_id']}/no-show", headers=staff).status == 200
    assert booked

    client = boto3.client("dynamodb", region_name="eu-west-3")
    prefix = "fairslot-test-"
    identities = set()
    for table in ("holds", "bookings", "requests"):
        identities |= {item["identity_key"]["S"] for item in client.scan(TableName=prefix + table)["Items"]}
    assert len(identities) >= 10
    dump = str(client.scan(TableName=prefix + "slots")["Items"])
    assert "freed_by" in dump and "hold_identity" in dump  # what R6 needs is still there, as tags
    assert not [key for key in identities if key in dump]
