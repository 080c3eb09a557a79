"""R1 through the API: one document is one identity however its digits are written (holds, cooldown,
draw requests, check-in), and a procedure accepts only the documents its policy lists."""
from datetime import date, timedelta

import pytest

from tests.support import PROCEDURE, SITE, applicant

AGENT = ("agents",)
ASCII = "0000000001"  # applicant(1)'s AGDREF number
# The same number as people type it on phones and keyboards of other scripts, with separators.
VARIANTS = {
    "fullwidth": "０００ ０００ ０００１",
    "arabic-indic": "٠٠٠-٠٠٠-٠٠٠١",
    "devanagari": "००० ०००.०००१",
}


def request_body():
    return {"site_id": SITE, "procedure_id": PROCEDURE, "from": date.today().isoformat(),
            "to": (date.today() + timedelta(days=20)).isoformat()}


def spelled(number, n=1):
    person = applicant(n)
    return {**person, "document": {"type": "agdref", "number": number}}


@pytest.mark.parametrize("script", VARIANTS)
def test_a_held_identity_written_in_another_script_cannot_hold_a_second_slot(api, script):
    slots = api.ready_site()
    assert api.hold(slots[0]["slot_id"], spelled(ASCII)).status == 201
    second = api.hold(slots[1]["slot_id"], spelled(VARIANTS[script]))
    assert second.status == 409 and second.code == "hold_already_active", second


@pytest.mark.parametrize("script", VARIANTS)
def test_an_identity_in_cooldown_stays_in_cooldown_in_another_script(api, script):
    slots = api.ready_site(cooldown_seconds=3600)
    booking = api.book(slots[0]["slot_id"], spelled(ASCII))
    assert api.cancel(booking).status == 204
    again = api.hold(slots[1]["slot_id"], spelled(VARIANTS[script]))
    assert again.status == 429 and again.code == "cooldown", again
    assert int(again.headers["retry-after"]) > 0


@pytest.mark.parametrize("script", VARIANTS)
def test_an_identity_cannot_file_a_second_request_in_another_script(api, script):
    api.create_site()
    api.set_policy(allocation="draw")
    body = request_body()
    assert api.call("POST", "/requests", {**body, "applicant": spelled(ASCII)}).status == 201
    second = api.call("POST", "/requests", {**body, "applicant": spelled(VARIANTS[script])})
    assert second.status == 409 and second.code == "request_already_active", second


def test_the_counter_recognises_the_booked_identity_in_any_script(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], spelled(ASCII))
    body = {"document": {"type": "agdref", "number": VARIANTS["arabic-indic"]}, "birth_date": "1990-01-02"}
    reply = api.call("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, api.staff_headers(AGENT))
    assert reply.status == 200 and reply.body["match"] is True and reply.body["status"] == "attended", reply


@pytest.mark.parametrize("number", ["AB12345ß", "00000000০1x", "0000000001ı", "АВ123456"])
def test_characters_outside_the_format_are_refused_naming_the_field(api, number):
    slots = api.ready_site()
    person = {**applicant(1), "document": {"type": "agdref", "number": number}}
    refused = api.hold(slots[0]["slot_id"], person)
    assert refused.status == 422 and refused.body["error"]["details"]["field"] == "applicant.document.number", refused


@pytest.mark.parametrize("birth_date", ["１９９０-01-02", "١٩٩٠-٠١-٠٢", "1990-0१-02"])
def test_a_birth_date_in_other_digits_is_refused(api, birth_date):
    slots = api.ready_site()
    refused = api.hold(slots[0]["slot_id"], {**applicant(1), "birth_date": birth_date})
    assert refused.status == 422 and refused.body["error"]["details"]["field"] == "applicant.birth_date", refused
    booking = api.book(slots[0]["slot_id"], applicant(1))
    body = {"document": applicant(1)["document"], "birth_date": birth_date}
    at_counter = api.call("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, api.staff_headers(AGENT))
    assert at_counter.status == 422 and at_counter.body["error"]["details"]["field"] == "birth_date", at_counter


# --- accepted documents ----------------------------------------------------------------------

def passport(n):
    return applicant(n, doc_type="passport")


def refused_for_its_document(reply):
    return (reply.status == 422 and reply.body["error"]["details"]["field"] == "applicant.document.type"
            and "agdref" in reply.body["error"]["message"] and "passport" not in reply.body["error"]["message"])


def test_a_renewal_accepts_only_the_agdref_number_by_default(api):
    slots = api.ready_site()
    policy = api.call("GET", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", headers=api.staff_headers(AGENT))
    assert policy.body["accepted_documents"] == ["agdref"]
    refused = api.hold(slots[0]["slot_id"], passport(1))
    assert refused_for_its_document(refused), refused
    assert api.hold(slots[0]["slot_id"], applicant(1)).status == 201


def test_another_procedure_accepts_every_document_by_default(api):
    api.create_site(procedures=("first_application",))
    api.schedule(procedure="first_application")
    slot = api.slots(procedure="first_application")[0]
    assert api.call("GET", f"/staff/sites/{SITE}/procedures/first_application/policy",
                    headers=api.staff_headers(AGENT)).body["accepted_documents"] == ["agdref", "passport", "visa"]
    listed = api.call("GET", "/sites").body["sites"][0]["procedures"]
    assert listed[0]["accepted_documents"] == ["agdref", "passport", "visa"]
    assert api.hold(slot["slot_id"], passport(1)).status == 201


def test_staff_change_the_accepted_documents_and_the_change_is_checked(api):
    slots = api.ready_site()
    for bad in ([], ["id_card"], "agdref", ["agdref", "agdref"]):
        reply = api.call("PUT", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/policy", {"accepted_documents": bad},
                         api.staff_headers())
        assert reply.status == 422 and reply.body["error"]["details"]["field"] == "accepted_documents", reply
    assert api.set_policy(accepted_documents=["passport", "agdref"])["accepted_documents"] == ["agdref", "passport"]
    assert api.hold(slots[0]["slot_id"], passport(1)).status == 201
    history = api.call("GET", f"/staff/sites/{SITE}/history", headers=api.staff_headers(AGENT)).body["history"]
    change = next(e for e in history if e["action"] == "policy_changed")
    assert change["details"]["changes"]["accepted_documents"] == {"old": ["agdref"], "new": ["agdref", "passport"]}


def test_a_partner_hold_names_an_accepted_document_too(api):
    slots = api.ready_site()
    partner = api.create_partner()
    assert refused_for_its_document(api.partner_hold(partner, slots[0]["slot_id"], passport(1)))
    assert api.partner_hold(partner, slots[0]["slot_id"], applicant(1)).status == 201


def test_a_draw_request_names_an_accepted_document_too(api):
    api.create_site()
    api.set_policy(allocation="draw")
    partner = api.create_partner()
    body = request_body()
    assert refused_for_its_document(api.call("POST", "/requests", {**body, "applicant": passport(1)}))
    assert refused_for_its_document(api.call("POST", "/partner/requests", {**body, "applicant": passport(2)},
                                             api.partner_headers(partner)))
    assert api.call("POST", "/requests", {**body, "applicant": applicant(1)}).status == 201
    assert api.call("POST", "/partner/requests", {**body, "applicant": applicant(2)}, api.partner_headers(partner)).status == 201


def _script_zeros():
    import sys
    import unicodedata

    return [c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Nd" and unicodedata.decimal(chr(c)) == 0]


def test_no_spelling_of_a_booked_identity_gets_past_its_booking(api):
    """Thirty spellings mixing every decimal digit script Unicode has and assorted separators,
    drawn with a fixed seed: each is the booked identity (R2), never a new one."""
    import random

    rng = random.Random(10)
    zeros = _script_zeros()
    assert len(zeros) > 60  # every script, not a handful
    separators = ["", "", " ", "\u00a0", "\u2003", "-", "\u2014", "\ufe63", ".", "\uff0e", "/", "\u200b", "\u2212"]
    slots = api.ready_site()
    api.book(slots[0]["slot_id"], spelled(ASCII))
    for n in range(30):
        typed = "".join(chr(rng.choice(zeros) + int(d)) + rng.choice(separators) for d in ASCII)
        refused = api.hold(slots[1]["slot_id"], spelled(typed), ip=f"192.0.2.{n}")  # refusals count per IP
        assert refused.status == 409 and refused.code == "booking_already_active", (typed, refused)


def test_at_the_counter_a_foreign_letter_is_refused_naming_the_field(api):
    slots = api.ready_site()
    booking = api.book(slots[0]["slot_id"], applicant(1))
    body = {"document": {"type": "agdref", "number": "00000000ß1"}, "birth_date": "1990-01-02"}
    reply = api.call("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, api.staff_headers(AGENT))
    assert reply.status == 422 and reply.body["error"]["details"]["field"] == "document.number", reply
    assert api.booking(booking).body["status"] == "booked"
