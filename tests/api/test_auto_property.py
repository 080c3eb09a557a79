"""Property of `auto` allocation, on random sequences of everything applicants and staff do: no slot
freed while a standby request covers its day ever appears in search before a draw has had it, and
search never shows a slot on a day a waiting request covers. Bounded: a few seeded sequences."""
import random
from datetime import date, timedelta

import pytest

from chalicelib.platform import clock
from tests.support import PROCEDURE, SITE, applicant

POLICY = {"allocation": "auto", "hold_ttl_seconds": 60, "quarantine_min_seconds": 30, "quarantine_max_seconds": 90,
          "cooldown_seconds": 120, "offer_ttl_seconds": 300, "draw_interval_seconds": 600,
          "max_holds_per_ip_per_hour": 1_000_000}
DAYS = [(date.today() + timedelta(days=n)).isoformat() for n in (2, 3)]
RANGES = [(DAYS[0], DAYS[0]), (DAYS[1], DAYS[1]), (DAYS[0], DAYS[1])]


class Run:
    def __init__(self, api, rng):
        self.api, self.rng = api, rng
        self.holds = {}  # hold_id -> hold body (+ "expires" in clock seconds)
        self.bookings = []
        self.requests = []
        self.to_draw = set()  # slots freed while a request covered their day, not yet drawn

    # --- what the model knows -------------------------------------------------------------------
    def waiting_ranges(self):
        ranges = []
        for request in self.requests:
            status = self.api.call("GET", f"/requests/{request['request_id']}",
                                   headers={"X-Request-Token": request["request_token"]}).body["status"]
            if status == "waiting":
                ranges.append(request["range"])
        return ranges

    def covered(self, starts_at):
        return any(first <= starts_at[:10] <= last for first, last in self.waiting_ranges())

    def freed(self, slot):
        if self.covered(slot["starts_at"]):
            self.to_draw.add(slot["slot_id"])

    # --- actions ----------------------------------------------------------------------------------
    def hold(self):
        found = self.api.slots()
        if found:
            reply = self.api.hold(self.rng.choice(found)["slot_id"], applicant(self.rng.randrange(40)))
            if reply.status == 201:
                self.holds[reply.body["hold_id"]] = {**reply.body, "expires": clock.now() + POLICY["hold_ttl_seconds"]}

    def confirm(self):
        if self.holds:
            hold = self.holds.pop(self.rng.choice(sorted(self.holds)))
            reply = self.api.confirm(hold)
            if reply.status == 201:
                self.bookings.append(reply.body)

    def release(self):
        if self.holds:
            hold = self.holds.pop(self.rng.choice(sorted(self.holds)))
            covered = self.covered(hold["slot"]["starts_at"])
            if self.api.release(hold).status == 204 and covered:
                self.to_draw.add(hold["slot"]["slot_id"])

    def cancel(self):
        if self.bookings:
            booking = self.bookings.pop(self.rng.randrange(len(self.bookings)))
            covered = self.covered(booking["slot"]["starts_at"])
            if self.api.cancel(booking).status == 204 and covered:
                self.to_draw.add(booking["slot"]["slot_id"])

    def file(self):
        first, last = self.rng.choice(RANGES)
        body = {"site_id": SITE, "procedure_id": PROCEDURE, "applicant": applicant(100 + self.rng.randrange(40)),
                "from": first, "to": last}
        reply = self.api.call("POST", "/requests", body)
        if reply.status == 201:
            self.requests.append({**reply.body, "range": (first, last)})

    def withdraw(self):
        if self.requests:
            request = self.rng.choice(self.requests)
            seen = self.api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]}).body
            covered = "hold" in seen and self.covered(seen["hold"]["slot"]["starts_at"])
            reply = self.api.call("DELETE", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]})
            if reply.status == 204 and covered and self.covered(seen["hold"]["slot"]["starts_at"]):
                self.to_draw.add(seen["hold"]["slot"]["slot_id"])

    def draw(self):
        reply = self.api.call("POST", f"/staff/sites/{SITE}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=self.api.staff_headers())
        assert reply.status == 200, reply
        self.to_draw.clear()
        for request in self.requests:
            seen = self.api.call("GET", f"/requests/{request['request_id']}", headers={"X-Request-Token": request["request_token"]}).body
            if seen["status"] == "offered" and self.rng.random() < 0.5:
                self.api.confirm(seen["hold"])

    def wait(self):
        clock.advance(self.rng.choice((5, 30, 61, 120, 301)))
        # A lapsing hold writes nothing: its slot comes back at the random instant set when it was
        # taken, and then (check) only if no waiting request covers its day.
        for hold_id, hold in list(self.holds.items()):
            if hold["expires"] <= clock.now():
                del self.holds[hold_id]

    # --- the property -----------------------------------------------------------------------------
    def check(self):
        shown = self.api.slots()
        ranges = self.waiting_ranges()
        for slot in shown:
            assert not any(first <= slot["starts_at"][:10] <= last for first, last in ranges), slot
            assert slot["slot_id"] not in self.to_draw, slot


@pytest.mark.parametrize("seed", range(4))
def test_no_slot_freed_while_a_covering_request_is_live_appears_in_search(api, seed):
    api.create_site()
    api.set_policy(**POLICY)
    api.schedule(days=2)  # 3 slots on each of two days
    run = Run(api, random.Random(seed))
    actions = [run.hold] * 4 + [run.confirm] * 3 + [run.release, run.cancel, run.cancel, run.file, run.file,
                                                    run.withdraw, run.draw, run.wait, run.wait]
    for _ in range(45):
        run.rng.choice(actions)()
        run.check()
