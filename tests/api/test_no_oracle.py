"""R10, "no answer reveals an identity's state to someone who has not proved it" (DEVELOPERS.md,
"No oracle"): a hold on a slot that cannot be held says so whatever the person's state, refused
holds count against the network's limit, a cooldown is told to the hour, and "find my booking"
does the same work and gives the same answer whether or not a booking exists."""
import pytest

from chalicelib.platform import clock
from tests.api.test_links import lookup, outbox, stream  # noqa: F401 -- the outbox and bookings stream fixtures
from tests.support import applicant, at_the_wire, deliver, messages

SHORT = {"hold_ttl_seconds": 60, "quarantine_min_seconds": 100, "quarantine_max_seconds": 200, "cooldown_seconds": 1000}
VICTIM = applicant(7)


def _victim_with_a_hold(api, slots):
    assert api.hold(slots[1]["slot_id"], VICTIM).status == 201


def _victim_with_a_booking(api, slots):
    assert api.confirm(api.hold(slots[1]["slot_id"], VICTIM).body).status == 201


def _victim_in_cooldown(api, slots):
    assert api.release(api.hold(slots[1]["slot_id"], VICTIM).body).status == 204


@pytest.mark.parametrize("state, identity_answer", [(_victim_with_a_hold, "hold_already_active"),
                                                    (_victim_with_a_booking, "booking_already_active"),
                                                    (_victim_in_cooldown, "cooldown")])
def test_a_hold_on_a_taken_slot_answers_slot_unavailable_whatever_the_identity_s_state(api, state, identity_answer):
    slots = api.ready_site(**SHORT)
    assert api.hold(slots[0]["slot_id"], applicant(1)).status == 201  # the slot someone else holds
    state(api, slots)
    probe = api.hold(slots[0]["slot_id"], VICTIM, ip="203.0.113.50")
    nobody = api.hold(slots[0]["slot_id"], applicant(99), ip="203.0.113.51")
    assert (probe.status, probe.code) == (409, "slot_unavailable"), probe
    assert probe.body == nobody.body and "retry-after" not in probe.headers
    # On a slot that can be held, the person's own state still answers (their own attempt).
    assert api.hold(slots[2]["slot_id"], VICTIM).code == identity_answer


def test_every_refused_hold_attempt_counts_against_the_network_s_hourly_limit(api):
    slots = api.ready_site(max_holds_per_ip_per_hour=3)
    assert api.hold(slots[0]["slot_id"], applicant(1), ip="198.51.100.1").status == 201
    ip = "198.51.100.2"
    refused = [api.hold(slots[0]["slot_id"], applicant(10 + n), ip=ip) for n in range(2)]  # a taken slot, twice
    assert [r.code for r in refused] == ["slot_unavailable"] * 2
    assert api.hold(slots[1]["slot_id"], applicant(20), ip=ip).status == 201  # the third action of the hour
    over = api.hold(slots[2]["slot_id"], applicant(21), ip=ip)
    assert (over.status, over.code) == (429, "rate_limited") and int(over.headers["retry-after"]) > 0
    # Past the limit the network is told its own limit and nothing else, even on a taken slot.
    assert api.hold(slots[0]["slot_id"], VICTIM, ip=ip).code == "rate_limited"
    assert api.hold(slots[2]["slot_id"], applicant(21), ip="198.51.100.3").status == 201  # another network


def test_refusals_before_the_transaction_count_too(api):
    slots = api.ready_site(max_holds_per_ip_per_hour=2)
    ip = "198.51.100.9"
    unknown = slots[0]["slot_id"][:-1] + ("A" if slots[0]["slot_id"][-1] != "A" else "B")
    assert api.hold(unknown, applicant(1), ip=ip).status == 404
    assert api.hold(slots[0]["slot_id"], applicant(2, doc_type="passport"), ip=ip).status == 422  # renewals take the AGDREF
    assert api.hold(slots[0]["slot_id"], applicant(3), ip=ip).code == "rate_limited"


def test_a_cooldown_s_retry_after_ends_on_a_whole_hour_and_moves_with_no_release_instant(api):
    slots = api.ready_site(**SHORT)
    assert api.release(api.hold(slots[0]["slot_id"], VICTIM).body).status == 204
    cooldown_end = clock.now() + SHORT["cooldown_seconds"]
    ends = []
    for _ in range(3):
        refused = api.hold(slots[1]["slot_id"], VICTIM)
        assert refused.code == "cooldown"
        ends.append(clock.now() + int(refused.headers["retry-after"]))
        clock.advance(97)
    assert all(end >= cooldown_end for end in ends)
    # The next whole hour (within the second Retry-After rounds to, and the test reading the clock after)
    assert all(0 <= end % 3600 < 2 for end in ends), ends
    assert max(ends) - min(ends) < 2  # the same instant, whenever one asks


# --- "find my booking" --------------------------------------------------------------------------

@pytest.fixture
def wire(monkeypatch):
    """The DynamoDB operations, in order, from now on."""
    seen = []

    def recording(send, service, operation, params):
        if service == "dynamodb":
            seen.append(operation)
        return send()

    at_the_wire(monkeypatch, recording)
    return seen


def test_find_my_booking_does_the_same_dynamodb_work_whether_or_not_a_booking_exists(api, wire):
    # Without an identity token (a stranger has none): the look-up is of unproven bookings (R10).
    slots = api.ready_site(identity_check="none")
    owner = applicant(1, email="owner@example.org")
    api.book(slots[0]["slot_id"], owner)
    work, answers = {}, {}
    for case, person, email in [("nobody", applicant(2), None), ("wrong e-mail", owner, "other@example.org"),
                                ("the owner", owner, None)]:
        wire.clear()
        reply = lookup(api, person, email=email, ip=f"198.51.100.{len(work) + 1}")
        work[case], answers[case] = list(wire), (reply.status, reply.body)
    assert work["nobody"] == work["wrong e-mail"] == work["the owner"], work
    assert answers["nobody"] == answers["wrong e-mail"] == answers["the owner"] == (202, {"status": "accepted"})


def test_a_stranger_cannot_use_up_the_owner_s_lookups(api, stream, outbox):  # noqa: F811 -- the fixtures
    slots = api.ready_site()
    owner = applicant(1, email="owner@example.org")
    booking = api.book(slots[0]["slot_id"], owner)
    deliver(stream)
    strangers = [lookup(api, owner, email=f"guess{n}@example.org", ip=f"203.0.113.{n}") for n in range(8)]
    assert {r.status for r in strangers} == {202}
    assert lookup(api, owner, ip="192.0.2.1").status == 202
    deliver(stream)
    assert messages(outbox)[f"{booking['booking_id']}-link.eml"]["To"] == "owner@example.org"


def test_a_booking_s_link_is_sent_again_at_most_once_in_the_interval(api, stream, outbox, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LOOKUP_LINK_INTERVAL_SECONDS", "600")
    slots = api.ready_site()
    owner = applicant(1)
    booking = api.book(slots[0]["slot_id"], owner)
    deliver(stream)
    assert lookup(api, owner).status == 202
    deliver(stream)

    def links():  # the outbox keeps every message: <name>.eml, then <name>.2.eml...
        found = messages(outbox)
        return [found[name].get_content() for name in sorted(found) if name.startswith(f"{booking['booking_id']}-link")]

    first = links()
    assert len(first) == 1
    clock.advance(60)
    assert lookup(api, owner).status == 202  # within the interval: the link just sent still opens it
    deliver(stream)
    assert links() == first
    clock.advance(600)
    assert lookup(api, owner).status == 202
    deliver(stream)
    assert len(links()) == 2 and len(set(links())) == 2  # a new message, with a new link
