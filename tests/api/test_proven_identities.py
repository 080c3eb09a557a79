"""R10 through the API: one-time codes to the contact the registry holds, identity tokens, and
locks that bind only proven identities (DEVELOPERS.md, "Proven identities")."""
from datetime import date, timedelta

import pytest

from chalicelib.platform import clock
from chalicelib.storage.models import IdentityState
from tests.support import PROCEDURE, SITE, applicant, code_in, messages, register

OTHER_SITE = "other-site"


def ask(api, person, site_id=SITE, procedure=PROCEDURE, ip=None):
    headers = {"X-Forwarded-For": ip} if ip else None
    return api.call("POST", "/verifications", {"site_id": site_id, "procedure_id": procedure, "applicant": person}, headers)


def send_code(api, verification_id, code):
    return api.call("POST", f"/verifications/{verification_id}", {"code": code})


def identity_items():
    """The identities table's items of locks (holds, bookings, requests), not codes or tokens."""
    return sorted((i.identity_key, i.scope) for i in IdentityState.scan() if i.scope not in ("verification", "proof"))


def victim():
    return applicant(7, email="victim@example.org")


def attacker_as_victim(email="attacker@example.net"):
    """What an attacker knows: the victim's number and birth date; the rest is theirs."""
    return {**victim(), "family_name": "Trafiquant", "given_names": "Karim", "email": email}


# --- codes ---------------------------------------------------------------------------------------

def test_the_code_goes_to_the_e_mail_the_registry_holds_never_to_the_one_typed(api):
    api.ready_site()
    person = victim()
    register({**person, "email": "registry-contact@example.org"})
    started = ask(api, {**person, "email": "typed@example.net"})
    assert started.status == 202 and set(started.body) == {"verification_id", "expires_at"}
    sent = messages(api.outbox, codes=True)[f"verification-{started.body['verification_id']}.eml"]
    assert sent["To"] == "registry-contact@example.org"
    proven = send_code(api, started.body["verification_id"], code_in(api.outbox, started.body["verification_id"]))
    assert proven.status == 201 and proven.body["destination"] == "r***@example.org"
    assert len(proven.body["identity_token"]) >= 22  # 128 bits and more, URL-safe


def test_an_unknown_identity_gets_the_same_answer_and_no_e_mail(api):
    api.ready_site()
    register(victim())
    known, unknown = ask(api, victim()), ask(api, applicant(8_765_432))  # a number no test puts in the registry
    mismatched = ask(api, attacker_as_victim())  # the right number and birth date, another family name
    assert known.status == unknown.status == mismatched.status == 202
    assert set(known.body) == set(unknown.body) == set(mismatched.body)
    names = set(messages(api.outbox, codes=True))
    assert f"verification-{known.body['verification_id']}.eml" in names
    assert f"verification-{unknown.body['verification_id']}.eml" not in names
    assert f"verification-{mismatched.body['verification_id']}.eml" not in names
    for guess in ("000000", "123456"):
        assert send_code(api, unknown.body["verification_id"], guess).code == "code_invalid"


def test_a_wrong_code_is_422_five_tries_then_429_and_an_expired_code_410(api):
    api.ready_site()
    register(victim())
    started = ask(api, victim())
    vid = started.body["verification_id"]
    right = code_in(api.outbox, vid)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert [send_code(api, vid, wrong).status for _ in range(5)] == [422] * 5
    locked = send_code(api, vid, right)
    assert locked.status == 429 and locked.code == "verification_locked" and int(locked.headers["retry-after"]) > 0
    again = ask(api, victim())
    clock.advance(601)
    late = send_code(api, again.body["verification_id"], code_in(api.outbox, again.body["verification_id"]))
    assert late.status == 410 and late.code == "verification_expired"
    assert send_code(api, "vrf_unknown", "123456").status == 404


def test_a_code_buys_one_token_and_the_token_expires(api):
    slots = api.ready_site()
    register(victim())
    started = ask(api, victim())
    code = code_in(api.outbox, started.body["verification_id"])
    token = send_code(api, started.body["verification_id"], code).body["identity_token"]
    assert send_code(api, started.body["verification_id"], code).code == "verification_expired"
    clock.advance(2 * 3600 + 1)
    late = api.call("POST", "/holds", {"slot_id": slots[0]["slot_id"], "applicant": victim(), "identity_token": token})
    assert late.status == 403 and late.code == "identity_unverified"


def test_codes_asked_for_are_limited_per_identity_and_per_network(api, monkeypatch):
    api.ready_site()
    monkeypatch.setenv("VERIFICATION_MAX_PER_IDENTITY_PER_HOUR", "3")
    monkeypatch.setenv("VERIFICATION_MAX_PER_IP_PER_HOUR", "5")
    register(victim())
    assert [ask(api, victim(), ip="198.51.100.1").status for _ in range(4)] == [202, 202, 202, 429]
    others = [ask(api, applicant(20 + n), ip="198.51.100.1").status for n in range(3)]
    assert others == [202, 202, 429]  # 5 from this network in the hour, whoever they are
    refused = ask(api, applicant(30), ip="198.51.100.1")
    assert refused.code == "rate_limited" and int(refused.headers["retry-after"]) > 0


def test_a_registry_that_cannot_answer_is_503_and_nothing_is_written(api, monkeypatch, tmp_path):
    slots = api.ready_site()
    partner = api.create_partner()
    monkeypatch.setenv("IDENTITY_REGISTRY_FILE", str(tmp_path / "missing.jsonl"))
    before = sorted((i.identity_key, i.scope) for i in IdentityState.scan())
    down = ask(api, victim())
    assert down.status == 503 and down.code == "registry_unavailable" and int(down.headers["retry-after"]) > 0
    by_partner = api.call("POST", "/partner/holds", {"slot_id": slots[0]["slot_id"], "applicant": victim()},
                          api.partner_headers(partner), prove=False)
    assert by_partner.status == 503 and by_partner.code == "registry_unavailable"
    assert sorted((i.identity_key, i.scope) for i in IdentityState.scan()) == before
    assert api.slots() == slots


def test_a_procedure_that_proves_nothing_needs_no_code(api):
    slots = api.ready_site(identity_check="none")
    assert ask(api, victim()).code == "verification_not_needed"
    assert api.hold(slots[0]["slot_id"], victim(), prove=False).status == 201


# --- holds, requests and look-ups need a token that proves their identity -----------------------

def test_a_hold_without_a_valid_token_is_403_and_changes_nothing(api):
    slots = api.ready_site()
    before = identity_items()
    bare = api.hold(slots[0]["slot_id"], victim(), prove=False)
    assert bare.status == 403 and bare.code == "identity_unverified"
    own_token = api.prove(applicant(9))  # a token the attacker could get: for their own identity
    borrowed = api.call("POST", "/holds", {"slot_id": slots[0]["slot_id"], "applicant": victim(), "identity_token": own_token})
    assert borrowed.status == 403 and borrowed.code == "identity_unverified"
    forged = api.call("POST", "/holds", {"slot_id": slots[0]["slot_id"], "applicant": victim(), "identity_token": "x" * 43})
    assert forged.code == "identity_unverified"
    assert identity_items() == before and api.slots() == slots


def test_a_token_is_bound_to_its_procedure(api):
    api.create_site(procedures=(PROCEDURE, "first_application"))
    api.set_policy(procedure="first_application", identity_check="registry")
    api.schedule(procedure="first_application")
    slot = api.slots(procedure="first_application")[0]
    token = api.prove(victim())  # proven for renewals
    other = api.call("POST", "/holds", {"slot_id": slot["slot_id"], "applicant": victim(), "identity_token": token})
    assert other.status == 403 and other.code == "identity_unverified"


def test_a_request_and_a_look_up_need_a_token_too(api):
    api.create_site()
    api.set_policy(allocation="draw")
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": victim(), "from": date.today().isoformat(),
            "to": (date.today() + timedelta(days=20)).isoformat()}
    refused = api.call("POST", "/requests", body, prove=False)
    assert refused.status == 403 and refused.code == "identity_unverified"
    assert api.call("POST", "/requests", body).status == 201
    lookup = {"document": victim()["document"], "birth_date": victim()["birth_date"], "email": victim()["email"]}
    assert api.call("POST", "/bookings/lookup", {**lookup, "identity_token": api.prove(applicant(9))}).code == "identity_unverified"
    assert api.call("POST", "/bookings/lookup", lookup).status == 202


# --- the four griefing paths, with only the victim's number and birth date ------------------------

def _attacker_cannot_prove(api):
    """The attacker asks for a code with the victim's number and birth date: it goes to the
    victim's registry contact (or nowhere), so the attacker has no token."""
    register(victim())
    started = ask(api, attacker_as_victim())
    assert started.status == 202
    assert f"verification-{started.body['verification_id']}.eml" not in messages(api.outbox, codes=True)


def test_griefing_hold_at_another_site_and_release_locks_nobody_out(api):
    slots = api.ready_site(cooldown_seconds=86400)
    api.create_site(site_id=OTHER_SITE)
    api.schedule(site_id=OTHER_SITE)
    elsewhere = api.slots(site_id=OTHER_SITE)
    _attacker_cannot_prove(api)
    taken = api.hold(elsewhere[0]["slot_id"], attacker_as_victim(), prove=False)
    assert taken.status == 403
    assert api.hold(slots[0]["slot_id"], victim()).status == 201


def test_griefing_hold_and_walk_away_locks_nobody_out(api):
    slots = api.ready_site(hold_ttl_seconds=60, cooldown_seconds=86400)
    _attacker_cannot_prove(api)
    assert api.hold(slots[0]["slot_id"], attacker_as_victim(), prove=False).status == 403
    clock.advance(61)
    assert api.hold(slots[1]["slot_id"], victim()).status == 201


def test_griefing_a_standby_request_in_the_victims_name_locks_nobody_out(api):
    api.create_site()
    api.set_policy(allocation="draw")
    body = {"site_id": SITE, "procedure_id": PROCEDURE, "from": date.today().isoformat(),
            "to": (date.today() + timedelta(days=20)).isoformat()}
    _attacker_cannot_prove(api)
    assert api.call("POST", "/requests", {**body, "applicant": attacker_as_victim()}, prove=False).status == 403
    assert api.call("POST", "/requests", {**body, "applicant": victim()}).status == 201


def test_griefing_a_booking_weeks_out_with_the_attackers_e_mail_locks_nobody_out(api):
    api.create_site()
    api.schedule(start_in_days=21)
    far = api.slots()
    api.schedule(start_in_days=2)
    near = [s for s in api.slots() if s["slot_id"] not in {f["slot_id"] for f in far}]
    _attacker_cannot_prove(api)
    assert api.hold(far[0]["slot_id"], attacker_as_victim(), prove=False).status == 403
    booking = api.book(near[0]["slot_id"], victim())
    assert booking["status"] == "booked"
    stolen = {"document": victim()["document"], "birth_date": victim()["birth_date"], "email": "attacker@example.net"}
    assert api.call("POST", "/bookings/lookup", stolen, prove=False).status == 202  # finds nothing: no token, no proven booking


# --- contact: one mailbox proves one identity per procedure ---------------------------------------

def test_in_contact_mode_the_code_goes_to_the_e_mail_typed_and_locks_bind_the_mailbox(api):
    slots = api.ready_site(identity_check="contact", cooldown_seconds=86400)
    started = ask(api, attacker_as_victim())
    sent = messages(api.outbox, codes=True)[f"verification-{started.body['verification_id']}.eml"]
    assert sent["To"] == "attacker@example.net"
    attacker = api.hold(slots[0]["slot_id"], attacker_as_victim())
    assert attacker.status == 201
    api.release(attacker.body)  # the attacker's own cooldown, on their own mailbox
    assert api.hold(slots[1]["slot_id"], attacker_as_victim()).code == "cooldown"
    assert api.hold(slots[1]["slot_id"], victim()).status == 201  # the victim, proven by their own mailbox


def test_a_procedure_that_proves_nothing_never_locks_a_proven_identity(api):
    api.create_site(procedures=(PROCEDURE, "open_day"))
    api.set_policy(procedure="open_day", identity_check="none", cooldown_seconds=86400)
    api.schedule(procedure="open_day")
    api.schedule()
    unproven = api.hold(api.slots(procedure="open_day")[0]["slot_id"], attacker_as_victim(), prove=False)
    assert unproven.status == 201
    api.release(unproven.body)
    assert api.hold(api.slots()[0]["slot_id"], victim()).status == 201


# --- partners on a registry procedure (no code: the association sees the person) -----------------

def test_a_partners_beneficiary_must_be_in_the_registry_and_is_told_by_e_mail(api, monkeypatch, tmp_path):
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path / "outbox"))
    slots = api.ready_site()
    partner = api.create_partner(name="Cimade Montpellier")
    unknown = api.call("POST", "/partner/holds", {"slot_id": slots[0]["slot_id"], "applicant": applicant(8_765_433)},
                       api.partner_headers(partner), prove=False)
    assert unknown.status == 403 and unknown.code == "registry_mismatch"
    register({**victim(), "email": "victim-registry@example.org"})
    held = api.call("POST", "/partner/holds", {"slot_id": slots[0]["slot_id"], "applicant": victim()},
                    api.partner_headers(partner), prove=False)
    assert held.status == 201, held
    notices = [m for name, m in messages(api.outbox).items() if name.startswith("partner-notice-")]
    assert [m["To"] for m in notices] == ["victim-registry@example.org"]
    assert "Cimade Montpellier" in notices[0].get_body().get_content()


@pytest.mark.parametrize("check", ["registry", "contact"])
def test_the_counter_recognises_a_proven_booking(api, check):
    slots = api.ready_site(identity_check=check)
    booking = api.book(slots[0]["slot_id"], victim())
    body = {"document": victim()["document"], "birth_date": victim()["birth_date"]}
    reply = api.call("POST", f"/staff/bookings/{booking['booking_id']}/check-in", body, api.staff_headers(("agents",)))
    assert reply.status == 200 and reply.body["match"] is True, reply


# --- one person, one entry: a signal, not a refusal -------------------------------------------------

def test_one_person_under_two_documents_is_a_signal_not_a_refusal(api):
    api.create_site(procedures=("first_application",))
    api.schedule(procedure="first_application")
    slots = api.slots(procedure="first_application")
    person = applicant(50, email="one@example.org")
    passport = {**person, "document": {"type": "passport", "number": "P1234567"}}
    assert api.hold(slots[0]["slot_id"], person).status == 201
    assert api.hold(slots[1]["slot_id"], passport).status == 201  # homonyms born the same day exist: never refused
    homonym = {**applicant(51, email="two@example.org"), "family_name": person["family_name"]}
    day = date.today().isoformat()
    found = api.call("GET", f"/staff/signals?date={day}", headers=api.staff_headers(("agents",))).body["signals"]
    assert [s["documents"] for s in found["one_person_several_documents"]] == [2]
    assert api.hold(slots[2]["slot_id"], homonym).status == 201
