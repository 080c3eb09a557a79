"""R10, SPEC's staff action: a person present at the counter with their document is freed of
whatever was done in their name (a hold, a request, a booking) and of their cooldown, by one
staff action recorded in the site's history and as a signal (DEVELOPERS.md, "Staff free a person")."""
from datetime import date, timedelta

from tests.support import PROCEDURE, SITE, applicant

SHORT = {"hold_ttl_seconds": 60, "quarantine_min_seconds": 100, "quarantine_max_seconds": 200, "cooldown_seconds": 86400}
VICTIM = applicant(7, email="victim@example.org")
PATH = f"/staff/sites/{SITE}/identities/release"


def release(api, person=VICTIM, groups=("agents",), reason="Present with their permit; the hold was not theirs."):
    body = {"procedure_id": PROCEDURE, "document": person["document"], "birth_date": person["birth_date"], "reason": reason}
    return api.call("POST", PATH, body, api.staff_headers(groups=groups))


def test_a_booking_made_in_the_person_s_name_ends_without_a_cooldown_and_they_can_book(api):
    slots = api.ready_site(**SHORT)
    griefer_copy = {**VICTIM, "email": "attacker@example.org"}
    booking = api.book(slots[0]["slot_id"], griefer_copy)
    assert api.hold(slots[1]["slot_id"], VICTIM).code == "booking_already_active"
    reply = release(api)
    assert reply.status == 200, reply
    assert reply.body["released"]["booking_id"] == booking["booking_id"] and reply.body["released"]["cooldown_lifted"] is False
    assert api.booking(booking).body["status"] == "cancelled"
    assert api.hold(slots[1]["slot_id"], VICTIM).status == 201  # no cooldown from the staff's cancellation


def test_a_cooldown_started_in_the_person_s_name_is_lifted(api):
    slots = api.ready_site(**SHORT)
    assert api.release(api.hold(slots[0]["slot_id"], VICTIM).body).status == 204  # someone else, in their name
    assert api.hold(slots[1]["slot_id"], VICTIM).code == "cooldown"
    reply = release(api)
    assert reply.status == 200 and reply.body["released"]["cooldown_lifted"] is True, reply
    assert api.hold(slots[1]["slot_id"], VICTIM).status == 201


def test_a_live_hold_in_the_person_s_name_ends_and_its_slot_is_freed_like_any_release(api):
    slots = api.ready_site(**SHORT)
    griefers_hold = api.hold(slots[0]["slot_id"], VICTIM).body
    reply = release(api, groups=("admins",))
    assert reply.status == 200 and reply.body["released"]["hold_id"] == griefers_hold["hold_id"], reply
    assert api.confirm(griefers_hold).status == 409  # the hold token someone kept confirms nothing
    assert slots[0]["slot_id"] not in {s["slot_id"] for s in api.slots()}  # quarantined, as after a release
    assert api.hold(slots[1]["slot_id"], VICTIM).status == 201


def test_a_standby_request_in_the_person_s_name_is_withdrawn(api):
    api.create_site()
    api.set_policy(allocation="draw", offer_ttl_seconds=600, cooldown_seconds=1000)
    api.schedule()
    day = (date.today() + timedelta(days=2)).isoformat()
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": VICTIM, "from": day, "to": day}
    assert api.call("POST", "/requests", body).status == 201
    assert api.call("POST", "/requests", body).code == "request_already_active"
    reply = release(api)
    assert reply.status == 200 and reply.body["released"]["request_id"], reply
    assert api.call("POST", "/requests", body).status == 201


def test_the_action_is_in_the_site_s_history_and_the_signals_without_the_document(api):
    slots = api.ready_site(**SHORT)
    api.hold(slots[0]["slot_id"], VICTIM)
    assert release(api, reason="Came with the AGDREF card").status == 200
    history = api.call("GET", f"/staff/sites/{SITE}/history", headers=api.staff_headers(groups=("agents",))).body["history"]
    entry, = [e for e in history if e["action"] == "identity_released"]
    text = str(entry)
    assert "Came with the AGDREF card" in text and VICTIM["document"]["number"] not in text
    signals = api.call("GET", "/staff/signals", headers=api.staff_headers(groups=("agents",))).body["signals"]
    released, = signals["identities_released"]
    assert released["reason"] == "Came with the AGDREF card" and released["site_id"] == SITE
    assert VICTIM["document"]["number"] not in str(released)


def test_nothing_in_the_person_s_name_is_a_200_that_ends_nothing(api):
    api.ready_site()
    reply = release(api)
    assert reply.status == 200
    assert {k: reply.body["released"][k] for k in ("hold_id", "booking_id", "request_id", "cooldown_lifted")} == {
        "hold_id": None, "booking_id": None, "request_id": None, "cooldown_lifted": False}


def test_only_staff_may_free_a_person_and_the_body_is_checked(api):
    api.ready_site()
    body = {"procedure_id": PROCEDURE, "document": VICTIM["document"], "birth_date": VICTIM["birth_date"], "reason": "x"}
    assert api.call("POST", PATH, body).status == 401
    bad = api.call("POST", PATH, {**body, "document": {"type": "agdref", "number": "12AB"}}, api.staff_headers(groups=("agents",)))
    assert bad.status == 422 and bad.body["error"]["details"]["field"] == "document.number"
    unknown = api.call("POST", PATH, {**body, "procedure_id": "nope"}, api.staff_headers(groups=("agents",)))
    assert unknown.status == 404


def test_staff_free_a_person_on_a_procedure_that_proves_nothing_and_by_mailbox_where_it_proves_by_mailbox(api):
    """The release binds the procedure's lock key: unproven locks under none, the document and
    its mailbox under contact (an e-mail is then required)."""
    slots = api.ready_site(identity_check="none")
    victim = applicant(1)
    assert api.hold(slots[0]["slot_id"], victim).status == 201  # a hold in the victim's name (nothing proven)
    body = {"procedure_id": PROCEDURE, "document": victim["document"], "birth_date": victim["birth_date"], "reason": "at the counter"}
    freed = api.call("POST", f"/staff/sites/{SITE}/identities/release", body, api.staff_headers(("agents",)))
    assert freed.status == 200 and freed.body["released"]["hold_id"], freed
    api.set_policy(identity_check="contact")
    refused = api.call("POST", f"/staff/sites/{SITE}/identities/release", body, api.staff_headers(("agents",)))
    assert refused.status == 422 and refused.body["error"]["details"] == {"field": "email"}
    with_mail = api.call("POST", f"/staff/sites/{SITE}/identities/release", {**body, "email": victim["email"]}, api.staff_headers(("agents",)))
    assert with_mail.status == 200, with_mail
