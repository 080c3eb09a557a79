"""Property-based: random sequences of hold / confirm / cancel / release / time passing, driven
through the API, agree with a small model of the rules (R2, R3, R4 and the hold lifecycle), whatever
digit script each person types their document number in (R1)."""
import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib.platform import clock
from tests.support import applicant

# Quarantine min == max so that the model can know when a freed slot comes back.
POLICY = {"hold_ttl_seconds": 50, "quarantine_min_seconds": 100, "quarantine_max_seconds": 100,
          "cooldown_seconds": 200, "max_holds_per_ip_per_hour": 1_000_000}
SLOTS, PEOPLE = 3, 3
# Each time a person holds, they may type their document number in another digit script
# (ASCII, fullwidth, Arabic-Indic, Devanagari): still one identity (R1), so R2 and R4 still apply.
DIGIT_ZEROS = (0x30, 0xFF10, 0x660, 0x966)
_examples = itertools.count()


class Model:
    def __init__(self):
        self.slot = {}  # slot_id -> dict(state, available_from, hold)
        self.person = {}  # n -> dict(hold, lapse_until, cooldown_until, booking)
        self.holds = {}  # hold_id -> dict(slot_id, person, expires, status, booking)

    def expected_hold(self, n, slot_id, now):
        p, s = self.person[n], self.slot[slot_id]
        if s["state"] not in ("open", "held") or s["available_from"] > now:
            return 409, "slot_unavailable"  # whatever the person's state: no oracle
        if p["hold"] and self.holds[p["hold"]]["expires"] > now:
            return 409, "hold_already_active"
        if (p["hold"] and p["lapse_until"] > now) or p["cooldown_until"] > now:
            return 429, "cooldown"
        if p["booking"]:
            return 409, "booking_already_active"
        return 201, None


class BookingMachine(RuleBasedStateMachine):
    api = None  # set by the test

    @initialize()
    def start(self):
        example = next(_examples)
        self.now = 1_900_000_000.0 + example * 100_000  # each example starts at its own time
        self.site = f"site-{example}"
        self.base = example * 100
        clock.now = lambda: self.now
        self.api.create_site(site_id=self.site)
        self.api.set_policy(site_id=self.site, **POLICY)
        self.api.schedule(site_id=self.site, start_in_days=(int(self.now - _real_now) // 86400) + 5)
        slots = self.api.slots(site_id=self.site)
        assert len(slots) == SLOTS
        self.model = Model()
        for s in sorted(slots, key=lambda s: s["starts_at"]):
            self.model.slot[s["slot_id"]] = {"state": "open", "available_from": 0, "hold": None}
        for n in range(PEOPLE):
            self.model.person[n] = {"hold": None, "lapse_until": 0, "cooldown_until": 0, "booking": None}
        self.tokens = {}
        self.bookings = {}

    def who(self, n, zero=0x30):
        person = applicant(self.base + n)
        number = "".join(chr(zero + int(d)) for d in person["document"]["number"])
        return {**person, "document": {**person["document"], "number": number}}

    @rule(n=st.integers(0, PEOPLE - 1), k=st.integers(0, SLOTS - 1), zero=st.sampled_from(DIGIT_ZEROS))
    def hold(self, n, k, zero):
        slot_id = self._pick(self.model.slot, k)
        status, code = self.model.expected_hold(n, slot_id, self.now)
        reply = self.api.hold(slot_id, self.who(n, zero))
        assert (reply.status, reply.code) == (status, code), (reply, self.model.person[n], self.model.slot[slot_id])
        if status == 201:
            hold_id = reply.body["hold_id"]
            self.tokens[hold_id] = reply.body
            expires = self.now + POLICY["hold_ttl_seconds"]
            self.model.holds[hold_id] = {"slot_id": slot_id, "person": n, "expires": expires, "status": "active"}
            self.model.slot[slot_id] = {"state": "held", "hold": hold_id,
                                        "available_from": expires + POLICY["quarantine_max_seconds"]}
            self.model.person[n].update(hold=hold_id, lapse_until=expires + POLICY["cooldown_seconds"])

    def _active(self, hold_id):
        h = self.model.holds[hold_id]
        return h["status"] == "active" and h["expires"] > self.now

    def _pick(self, ids, i):
        return list(ids)[i % len(ids)]  # by creation order: ids are random, positions are not

    @precondition(lambda self: self.model.holds)
    @rule(i=st.integers(0, 50))
    def confirm(self, i):
        hold_id = self._pick(self.model.holds, i)
        h = self.model.holds[hold_id]
        reply = self.api.confirm(self.tokens[hold_id])
        if h["status"] == "confirmed":
            assert reply.status == 200 and reply.body["booking_id"] == h["booking"]
        elif self._active(hold_id):
            assert reply.status == 201, reply
            h.update(status="confirmed", booking=reply.body["booking_id"])
            self.bookings[reply.body["booking_id"]] = {"token": reply.body, "hold": hold_id, "status": "booked"}
            self.model.slot[h["slot_id"]]["state"] = "booked"
            self.model.person[h["person"]].update(hold=None, lapse_until=0, booking=reply.body["booking_id"])
        elif h["status"] == "active":
            assert reply.status == 410, reply
        else:
            assert reply.status == 409, reply

    @precondition(lambda self: self.model.holds)
    @rule(i=st.integers(0, 50))
    def release(self, i):
        hold_id = self._pick(self.model.holds, i)
        h = self.model.holds[hold_id]
        reply = self.api.release(self.tokens[hold_id])
        if self._active(hold_id):
            assert reply.status == 204, reply
            h["status"] = "released"
            self.model.slot[h["slot_id"]].update(state="open", hold=None,
                                                 available_from=self.now + POLICY["quarantine_max_seconds"])
            self.model.person[h["person"]].update(hold=None, lapse_until=0,
                                                  cooldown_until=self.now + POLICY["cooldown_seconds"])
        elif h["status"] == "active":
            assert reply.status == 410, reply
        else:
            assert reply.status == 409, reply

    @precondition(lambda self: self.bookings)
    @rule(i=st.integers(0, 50))
    def cancel(self, i):
        booking_id = self._pick(self.bookings, i)
        b = self.bookings[booking_id]
        reply = self.api.cancel(b["token"])
        if b["status"] == "booked":
            assert reply.status == 204, reply
            b["status"] = "cancelled"
            h = self.model.holds[b["hold"]]
            self.model.slot[h["slot_id"]].update(state="open", hold=None,
                                                 available_from=self.now + POLICY["quarantine_max_seconds"])
            p = self.model.person[h["person"]]
            p.update(booking=None, cooldown_until=max(p["cooldown_until"], self.now + POLICY["cooldown_seconds"]))
        else:
            assert reply.status == 409, reply

    @rule(seconds=st.sampled_from([1, 25, 49, 50, 51, 99, 100, 150, 199, 200, 201, 400]))
    def time_passes(self, seconds):
        self.now += seconds

    @invariant()
    def search_shows_exactly_the_holdable_slots(self):
        if not hasattr(self, "model"):
            return
        expected = sorted(sid for sid, s in self.model.slot.items()
                          if s["state"] in ("open", "held") and s["available_from"] <= self.now)
        assert sorted(s["slot_id"] for s in self.api.slots(site_id=self.site)) == expected

    @invariant()
    def no_slot_is_booked_twice(self):
        if not hasattr(self, "model"):
            return
        booked = [self.model.holds[b["hold"]]["slot_id"] for b in self.bookings.values() if b["status"] == "booked"]
        assert len(booked) == len(set(booked))


_real_now = clock.now()


@pytest.mark.filterwarnings("ignore")
def test_random_sequences_agree_with_the_model(api, monkeypatch):
    monkeypatch.setattr(clock, "now", clock.now)  # restored after the test
    BookingMachine.api = api
    machine = BookingMachine.TestCase
    machine.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                suppress_health_check=list(HealthCheck))
    machine().runTest()
