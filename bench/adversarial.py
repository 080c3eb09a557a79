"""Adversarial simulation (docs/fairness.md): traffickers, buyers, honest applicants
and polling bots against the REAL API over HTTP (the local stack on free loopback ports), in both
allocation modes. Prints a markdown table of results and the command that reproduces it.

Agents
  trafficker  many fake identities (each a different document number), one IP per identity
              (X-Forwarded-For, which the local stack takes as the client IP), and a bot that
              works for his buyer;
  buyer       one real identity, who paid the trafficker;
  honest      one identity each, checks now and then (mean interval HONEST_MEAN_S, "a few times a
              day" in compressed time);
  bot         one identity, polls as fast as the server answers.

Compressed time: hold_ttl 2 s, quarantine 1-3 s, cooldown 5 s (about 1 s = 2 h of the real
defaults: quarantine 30 min-6 h, cooldown ~10 h). Honest applicants check every ~3 s (~6 h).

Scenarios (SPEC §1, §4 R3/R4/R6/R8)
  (a) cancel-and-rebook      the trafficker cancels a fake booking, the buyer takes the slot back
  (b) release-and-rehold     the same with a hold (draw mode: an offer withdrawn)
  (c) expiry-and-rehold      the same with a hold left to expire (draw mode: an offer left to lapse)
  (d) hold cycling           many fake identities hold and let go to deny inventory to others
  (e) one IP, many ids       the per-IP hold limit (draw mode: requests filed from one IP)
  (f) buyer in the draw      the trafficker files a request with the buyer's own identity
  (g) channels               the partner share (cancel then rebook, or cancel while the buyer waits
                             in a draw), partner requests beyond the quota, withdrawing the
                             standby request that hid fresh slots and polling at that instant
  (h) proven identities      fakes against the registry, the four griefing paths with only the
                             victim's number and birth date, fakes with their own mailboxes
                             (contact), the registry down (bench/proofs.py's scenarios)
  bot vs honest              who gets the slots: a polling bot or an applicant checking now and then

In fcfs a transfer is: the buyer ends up booked on the exact slot the trafficker freed. In draw
mode the trafficker frees the slot just before a draw the buyer has entered: a transfer is the
draw giving that slot to the buyer; measured over repeated draws.

    .venv/bin/python bench/adversarial.py [--quick] [--seed N]
"""
import argparse
import contextlib
import functools
import itertools
import os
import random
import sys
import threading
import time
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.storm import STAFF_SECRET, start_stack  # noqa: E402

os.environ.setdefault("STAFF_JWT_SECRET", STAFF_SECRET)
from tests.support import Api  # noqa: E402

PROCEDURE = "renewal"
FAST = {"allocation": "fcfs", "hold_ttl_seconds": 2, "quarantine_min_seconds": 1, "quarantine_max_seconds": 3,
        "cooldown_seconds": 5, "max_holds_per_ip_per_hour": 1_000_000}
DRAW = {"allocation": "draw", "offer_ttl_seconds": 600, "cooldown_seconds": 5, "max_holds_per_ip_per_hour": 1_000_000}
# auto: FAST while nobody waits; standby requests drawn every DRAW_TICK_S (the draw_interval tick,
# run here through the staff endpoint), ~12 h in compressed time (the default interval is 1 day).
AUTO = dict(FAST, allocation="auto", offer_ttl_seconds=600, draw_interval_seconds=60)
DRAW_TICK_S = 6.0
HONEST_MEAN_S = 3.0
BOT_PAUSE_S = 0.01
_ids = itertools.count(1)
_sites = itertools.count(1)
_ips = itertools.count(1)


# --- plumbing -------------------------------------------------------------------------------

def person(tag="x"):
    n = next(_ids)
    return {"document": {"type": "agdref", "number": f"{7_000_000_000 + n:010d}"}, "birth_date": "1990-01-02",
            "family_name": f"{tag.title()}{n}", "given_names": "Test", "email": f"{tag}{n}@example.org"}


def new_ip():
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


class Bench:
    def __init__(self, base, rng):
        self.base, self.rng = base, rng
        self.admin = Api(base, staff_secret=STAFF_SECRET)

    def client(self):
        return Api(self.base, staff_secret=STAFF_SECRET)

    def site(self, policy, slots_closes="10:00", slot_minutes=60, publish="now", days=1):
        site = f"adv-{os.getpid()}-{next(_sites)}"
        self.admin.create_site(site_id=site)
        self.admin.set_policy(site_id=site, **policy)
        self.admin.schedule(site_id=site, closes=slots_closes, slot_minutes=slot_minutes, publish=publish, days=days)
        return site

    def slot_ids_now(self, api, site):
        return [s["slot_id"] for s in api.slots(site_id=site)]

    # draw helpers
    def file(self, api, site, who, ip=None, permit=None, first=None, last=None):
        body = {"site_id": site, "procedure_id": PROCEDURE, "applicant": who,
                "from": (first or date.today()).isoformat(), "to": (last or date.today() + timedelta(days=30)).isoformat()}
        if permit:
            body["permit_expires_on"] = permit
        return api.call("POST", "/requests", body, {"X-Forwarded-For": ip or new_ip()})

    def status(self, api, req):
        return api.call("GET", f"/requests/{req['request_id']}", headers={"X-Request-Token": req["request_token"]})

    def withdraw(self, api, req):
        return api.call("DELETE", f"/requests/{req['request_id']}", headers={"X-Request-Token": req["request_token"]})

    def run_draw(self, site):
        reply = self.admin.call("POST", f"/staff/sites/{site}/procedures/{PROCEDURE}/draws", {"reason": "test"}, headers=self.admin.staff_headers())
        assert reply.status == 200, reply
        return reply.body

    def offer_of(self, api, req):
        body = self.status(api, req).body
        return body.get("hold") if body.get("status") == "offered" else None


def nap(seconds, until):
    """Sleep `seconds`, but not past the monotonic instant `until`."""
    time.sleep(max(0.0, min(seconds, until - time.monotonic())))


def rate(k, n):
    return f"{k}/{n} = {k / n:.0%}" if n else "–"


def together(*calls):
    """Run each call in its own thread; their results, in order, once every one has returned."""
    results = [None] * len(calls)

    def run(i, call):
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@contextlib.contextmanager
def draws_ticking(b, site, ticking=True):
    """The draw tick (the draw_interval schedule, run here through the staff endpoint every
    DRAW_TICK_S) for as long as the block runs."""
    stopped = threading.Event()

    def tick():
        while not stopped.wait(DRAW_TICK_S):
            b.run_draw(site)

    ticker = threading.Thread(target=tick)
    if ticking:
        ticker.start()
    try:
        yield
    finally:
        stopped.set()
        if ticking:
            ticker.join()


def book_one_of_the_first(b, c, site, me, ip, count=3):
    """Hold and confirm one of the first `count` slots search lists; True when booked."""
    for slot in b.slot_ids_now(c, site)[:count]:
        if holds_and_confirms(c, slot, me, ip):
            return True
    return False


def holds_and_confirms(c, slot, me, ip):
    r = c.hold(slot, me, ip=ip)
    return r.status == 201 and c.confirm(r.body).status == 201


def confirms_offer(b, c, request):
    """The request's offer, confirmed if there is one; True when booked."""
    offer = b.offer_of(c, request)
    return bool(offer) and c.confirm(offer).status == 201


def file_request(b, c, site, me, ip):
    """Join the standby list; the request, or None if refused."""
    filed = b.file(c, site, me, ip=ip)
    return filed.body if filed.status == 201 else None


def draw_replays(record):
    """Whether the published draw record gives the same allocation when replayed."""
    from chalicelib.rules import lottery

    return [list(p) for p in lottery.allocate(record["entrants"], record["slots"], record["seed"])] == record["allocation"]


# --- fcfs races: (a), (b), (c) --------------------------------------------------------------

class Race:
    """A freed slot raced for: the first agent whose hold is granted confirms it and wins; the
    others stop then, or at the deadline."""

    def __init__(self, slot, seconds):
        self.slot, self.winner = slot, None
        self.done, self.lock = threading.Event(), threading.Lock()
        self.deadline = time.monotonic() + seconds

    def on(self):
        return not self.done.is_set() and time.monotonic() < self.deadline

    def won(self, kind, client, reply):
        with self.lock:
            if self.done.is_set():
                return
            self.done.set()
        client.confirm(reply.body)
        self.winner = kind

    def try_hold(self, kind, client, who, ip):
        """Hold the slot; True when this agent won it."""
        r = client.hold(self.slot, who, ip=ip)
        if r.status == 201:
            self.won(kind, client, r)
        return r.status == 201

    def wait(self, seconds):
        """Wait `seconds`, less if the race ends or the deadline comes first."""
        self.done.wait(min(seconds, max(0.0, self.deadline - time.monotonic())))


def trafficker_holds(api, slot, fake):
    """A fake identity of the trafficker holds the slot: (the hold, an instant after the server took it)."""
    hold = api.hold(slot, fake, ip=new_ip())
    held_by = time.time()  # the server took the hold before this instant: it expires before held_by + ttl
    assert hold.status == 201, hold
    return hold, held_by


def let_the_slot_go(api, how, hold, booking, held_by):
    """The trafficker frees his slot: cancels the booking, releases the hold, or lets it expire."""
    if how == "cancel":
        assert api.cancel(booking).status == 204
    elif how == "release":
        assert api.release(hold.body).status == 204
    else:  # expiry: wait for the instant the hold lapses, which the trafficker knows to a few ms
        # (the response's expires_at is rounded down to the second, so it is not used)
        time.sleep(max(0.0, held_by + FAST["hold_ttl_seconds"] - time.time()) + 0.02)


def buyer_takes_it_at_once(api, slot, buyer, race_seconds):
    """The buyer holds the freed slot at once: (that reply, the buyer's IP, the race that follows)."""
    buyer_ip = new_ip()
    at_once = api.hold(slot, buyer, ip=buyer_ip)
    race = Race(slot, race_seconds)
    if at_once.status == 201:
        race.won("buyer", api, at_once)
    return at_once, buyer_ip, race


def fcfs_trial(b, how, rivals, honest):
    """One slot; a fake identity of the trafficker has it (booked, or held); he lets it go (cancel,
    release or expiry) and his bot tries at once, then keeps polling for the buyer, racing `rivals`
    bots and `honest` applicants. Returns (buyer at once status, winner kind or None)."""
    site = b.site(FAST)
    api = b.client()
    slot = b.slot_ids_now(api, site)[0]
    fake, buyer = person("fake"), person("buyer")
    hold, held_by = trafficker_holds(api, slot, fake)
    booking = api.confirm(hold.body).body if how == "cancel" else None
    let_the_slot_go(api, how, hold, booking, held_by)
    at_once, buyer_ip, race = buyer_takes_it_at_once(api, slot, buyer, FAST["quarantine_max_seconds"] + 2.5)
    together(functools.partial(buyers_bot, b, race, buyer, buyer_ip),
             *[functools.partial(rival_bot, b, race, site) for _ in range(rivals)],
             *[functools.partial(honest_racer, b, race, site, b.rng.random()) for _ in range(honest)])
    return at_once.status, race.winner


def buyers_bot(b, race, buyer, buyer_ip):
    """The trafficker knows the slot id: his bot polls POST /holds directly for the buyer."""
    c = b.client()
    while race.on() and not race.try_hold("buyer", c, buyer, buyer_ip):
        time.sleep(BOT_PAUSE_S)


def rival_bot(b, race, site):
    """Another bot: searches as fast as the server answers and holds the slot when it is listed."""
    c, me, ip = b.client(), person("bot"), new_ip()
    while race.on():
        if race.slot in b.slot_ids_now(c, site) and race.try_hold("bot", c, me, ip):
            return
        time.sleep(BOT_PAUSE_S)


def honest_racer(b, race, site, seed):
    """An honest applicant: searches now and then and holds the slot when it is listed."""
    rng, c, me, ip = random.Random(seed), b.client(), person("honest"), new_ip()
    race.done.wait(rng.uniform(0, HONEST_MEAN_S))
    while race.on():
        if race.slot in b.slot_ids_now(c, site) and race.try_hold("honest", c, me, ip):
            return
        race.wait(rng.expovariate(1 / HONEST_MEAN_S))


def fcfs_race_row(b, how, label, trials, rivals, honest):
    at_once, transfers, others = [], 0, {}
    for _ in range(trials):
        status, who = fcfs_trial(b, how, rivals, honest)
        at_once.append(status)
        transfers += who == "buyer"
        others[who] = others.get(who, 0) + 1
    n = rivals + honest + 1
    return {"scenario": label, "mode": "fcfs", "runs": trials,
            "at_once": f"{sum(s == 201 for s in at_once)}/{trials} (got {','.join(sorted(set(map(str, at_once))))})",
            "transfer": rate(transfers, trials), "buyer": rate(transfers, trials), "fair": f"1/{n} = {1 / n:.0%}",
            "notes": f"{rivals} rival bots, {honest} honest; winners: "
                     + ", ".join(f"{k or 'nobody'} {v}" for k, v in sorted(others.items(), key=lambda kv: str(kv[0])))}


# --- auto: (a), (b), (c) --------------------------------------------------------------------

def auto_trial(b, how, rivals, honest):
    """fcfs_trial in auto under scarcity: the only slot is the trafficker's, so everybody who
    searched found nothing and joined the standby list (the buyer too, with his own identity).
    The trafficker lets the slot go; his bot, the rival bots and the honest applicants keep trying
    search and POST /holds through the whole quarantine window; then the draw tick runs. Returns
    (buyer at once status, winner through search or None, winner of the draw or None, replays)."""
    site = b.site(AUTO)
    api = b.client()
    slot = b.slot_ids_now(api, site)[0]
    fake, buyer = person("fake"), person("buyer")
    hold, held_by = trafficker_holds(api, slot, fake)
    booking = api.confirm(hold.body).body if how == "cancel" else None
    kinds = [("buyer", buyer)] + [("bot", person("bot")) for _ in range(rivals)] + [("honest", person("honest")) for _ in range(honest)]
    requests = everyone_on_standby(b, api, site, kinds)
    let_the_slot_go(api, how, hold, booking, held_by)
    at_once, buyer_ip, race = buyer_takes_it_at_once(api, slot, buyer, FAST["quarantine_max_seconds"] + 2.5)
    together(*[functools.partial(standby_poller, b, race, site, kind, who, buyer_ip, b.rng.random()) for kind, who, _ in requests])
    drawn = None if race.winner else drawn_by_the_tick(b, api, site, slot, requests)
    # the list shows a draw's figures; its record is read in pages (DEVELOPERS.md, "Draws (R6)")
    record = next(api.draw_record(d, site_id=site, procedure=PROCEDURE) for d in api.draws(site_id=site, procedure=PROCEDURE)
                  if d["status"] == "run")
    return at_once.status, race.winner, drawn, draw_replays(record)


def everyone_on_standby(b, api, site, kinds):
    """Each (kind, identity) files a request: [(kind, identity, request)]."""
    requests = []
    for kind, who in kinds:
        filed = b.file(api, site, who)
        assert filed.status == 201, filed
        requests.append((kind, who, filed.body))
    return requests


def standby_poller(b, race, site, kind, who, buyer_ip, seed):
    """While waiting on the standby list, keep trying search and POST /holds: the buyer's bot
    (which knows the slot id) and rival bots as fast as the server answers, honest applicants now and then."""
    rng, c, ip = random.Random(seed), b.client(), buyer_ip if kind == "buyer" else new_ip()
    if kind == "honest":
        race.done.wait(rng.uniform(0, HONEST_MEAN_S))
    while race.on():
        if (kind == "buyer" or race.slot in b.slot_ids_now(c, site)) and race.try_hold(kind, c, who, ip):
            return
        race.wait(BOT_PAUSE_S if kind != "honest" else rng.expovariate(1 / HONEST_MEAN_S))


def drawn_by_the_tick(b, api, site, slot, requests):
    """Nobody took the slot through search: the draw tick runs; the kind it offered the slot to, or None."""
    b.run_draw(site)
    drawn = None
    for kind, _, req in requests:
        offer = b.offer_of(api, req)
        if offer and offer["slot"]["slot_id"] == slot:
            drawn = kind
    return drawn


def auto_race_row(b, how, label, trials, rivals, honest):
    results = [auto_trial(b, how, rivals, honest) for _ in range(trials)]
    n = rivals + honest + 1
    by_search = [r[1] for r in results if r[1]]
    drawn = {}
    for r in results:
        drawn[r[2]] = drawn.get(r[2], 0) + 1
    transfers = sum(r[1] == "buyer" or r[2] == "buyer" for r in results)
    bots = sum(r[2] == "bot" for r in results)
    return {"scenario": label, "mode": "auto", "runs": trials,
            "at_once": f"{sum(r[0] == 201 for r in results)}/{trials} (got {','.join(sorted({str(r[0]) for r in results}))})",
            "transfer": rate(transfers, trials), "buyer": rate(transfers, trials), "fair": f"1/{n} = {1 / n:.0%}",
            "notes": f"{rivals} rival bots, {honest} honest, all on the standby list; taken through search: "
                     f"{len(by_search)}/{trials}; the draw gave it to: "
                     + ", ".join(f"{k or 'nobody'} {v}" for k, v in sorted(drawn.items(), key=lambda kv: str(kv[0])))
                     + f" (rival bots' fair share {rivals}/{n}: {rate(bots, trials)}); records replay {sum(r[3] for r in results)}/{trials}"}


# --- draw mode: (a), (b), (c) ---------------------------------------------------------------

def draw_trial(b, how, entrants):
    """A fake identity of the trafficker won the slot in a draw; the buyer and entrants-1 honest
    applicants file requests; the trafficker lets the slot go (cancel / withdraw the offer / let
    the offer lapse) and the next draw runs. Returns (buyer at once status, buyer waiting until
    the draw, buyer got the freed slot, draw record replays)."""
    policy = dict(DRAW, offer_ttl_seconds=2) if how == "expiry" else DRAW
    site = b.site(policy)
    api = b.client()
    fake = b.file(api, site, person("fake")).body
    assert b.run_draw(site)["offered"] == 1
    offer = b.offer_of(api, fake)
    slot = offer["slot"]["slot_id"]
    buyer_who = person("buyer")
    buyer = b.file(api, site, buyer_who).body
    for _ in range(entrants - 1):
        assert b.file(api, site, person("honest")).status == 201
    if how == "cancel":
        booking = api.confirm(offer).body
        assert api.cancel(booking).status == 204
    elif how == "release":
        assert b.withdraw(api, fake).status == 204
    else:
        time.sleep(2.05)
    at_once = api.hold(slot, buyer_who, ip=new_ip()).status  # the fcfs trick, tried anyway
    waiting = b.status(api, buyer).body["status"] == "waiting"
    b.run_draw(site)
    got = b.offer_of(api, buyer)
    records = (api.draw_record(d, site_id=site) for d in api.draws(site_id=site) if d["status"] == "run")
    record = next(r for r in records if any(e["request_id"] == buyer["request_id"] for e in r["entrants"]))
    return at_once, waiting, bool(got and got["slot"]["slot_id"] == slot), draw_replays(record)


def draw_race_row(b, how, label, trials, entrants):
    results = [draw_trial(b, how, entrants) for _ in range(trials)]
    transfers = sum(r[2] for r in results)
    return {"scenario": label, "mode": "draw", "runs": trials,
            "at_once": f"0/{trials} (got {','.join(sorted({str(r[0]) for r in results}))}); "
                       f"still waiting {sum(r[1] for r in results)}/{trials}",
            "transfer": rate(transfers, trials), "buyer": rate(transfers, trials), "fair": f"1/{entrants} = {1 / entrants:.0%}",
            "notes": f"{entrants} entrants, the freed slot the only one in the draw; records replay "
                     f"{sum(r[3] for r in results)}/{trials}"}


# --- (f) the buyer's identity in the draw ---------------------------------------------------

def buyer_in_draw_row(b, trials, fakes, honest, urgent_buyer=False, urgent_honest=0):
    """One slot per draw; entrants: the trafficker's fakes, the buyer (filed by the trafficker
    with the buyer's own identity), honest applicants. Win rates against 1/N."""
    n = fakes + 1 + honest
    buyer_wins = fake_wins = 0
    soon = (date.today() + timedelta(days=20)).isoformat()
    for _ in range(trials):
        site = b.site(DRAW)
        api = b.client()
        ip = new_ip()  # the trafficker files everything from one address
        fake_reqs = [b.file(api, site, person("fake"), ip=ip).body for _ in range(fakes)]
        buyer = b.file(api, site, person("buyer"), ip=ip, permit=soon if urgent_buyer else None).body
        for i in range(honest):
            assert b.file(api, site, person("honest"), permit=soon if i < urgent_honest else None).status == 201
        b.run_draw(site)
        buyer_wins += b.offer_of(api, buyer) is not None
        fake_wins += sum(b.offer_of(api, r) is not None for r in fake_reqs)
    if urgent_buyer:
        label = "(f') buyer falsely declares an urgent permit"
        fair = f"1/{n} = {1 / n:.0%} (honest urgent: {urgent_honest})"
    else:
        label = "(f) buyer's identity in the draw + fakes"
        fair = f"1/{n} = {1 / n:.0%}"
    return {"scenario": label, "mode": "draw", "runs": trials, "at_once": "–", "transfer": "–",
            "buyer": rate(buyer_wins, trials), "fair": fair,
            "notes": f"1 slot, {n} entrants; the trafficker's {fakes} fakes won {rate(fake_wins, trials)} (fair {fakes}/{n} = {fakes / n:.0%})"}


# --- bots against honest applicants ---------------------------------------------------------

def fcfs_market(b, bots, honest, slots, window, duration):
    """`slots` slots published at random instants over `window` seconds; everybody wants one."""
    site = b.site(dict(FAST, publish_window_seconds=window), slots_closes=f"{9 + slots}:00", publish="random_window")
    stop_at = time.monotonic() + duration
    kinds = ["bot"] * bots + ["honest"] * honest
    booked = together(*[functools.partial(market_searcher, b, site, k, stop_at, b.rng.random()) for k in kinds])
    return won_by_kind(kinds, booked)


def market_searcher(b, site, kind, stop_at, seed):
    """Search and hold one of the first slots listed until one is booked: a bot as fast as the
    server answers, an honest applicant now and then. True when booked."""
    rng, c, me, ip = random.Random(seed), b.client(), person(kind), new_ip()
    if kind == "honest":
        nap(rng.uniform(0, HONEST_MEAN_S), stop_at)
    while time.monotonic() < stop_at:
        if book_one_of_the_first(b, c, site, me, ip):
            return True
        nap(BOT_PAUSE_S if kind == "bot" else rng.expovariate(1 / HONEST_MEAN_S), stop_at)
    return False


def won_by_kind(kinds, booked):
    won = {"bot": 0, "honest": 0}
    for kind, got in zip(kinds, booked, strict=True):
        won[kind] += got
    return won


def draw_market(b, bots, honest, slots):
    site = b.site(DRAW, slots_closes=f"{9 + slots}:00")
    api = b.client()
    reqs = []
    for _ in range(bots):  # bots file first and file again and again (refused)
        me, ip = person("bot"), new_ip()
        reqs.append(("bot", b.file(api, site, me, ip=ip).body))
        for _ in range(3):
            assert b.file(api, site, me, ip=ip).status == 409
    reqs += [("honest", b.file(api, site, person("honest")).body) for _ in range(honest)]
    b.run_draw(site)
    won = {"bot": 0, "honest": 0}
    for kind, r in reqs:
        won[kind] += b.offer_of(api, r) is not None
    return won


def auto_market(b, bots, honest, slots, window, duration):
    """fcfs_market in auto: everybody searches; who finds a slot holds it, who finds none joins the
    standby list (bots at once, honest applicants at their first check) and confirms an offer when
    one comes; the draw tick runs every DRAW_TICK_S."""
    site = b.site(dict(AUTO, publish_window_seconds=window), slots_closes=f"{9 + slots}:00", publish="random_window")
    stop_at = time.monotonic() + duration
    kinds = ["bot"] * bots + ["honest"] * honest
    with draws_ticking(b, site):
        booked = together(*[functools.partial(auto_searcher, b, site, k, stop_at, b.rng.random()) for k in kinds])
    return won_by_kind(kinds, booked)


def auto_searcher(b, site, kind, stop_at, seed):
    """market_searcher in auto: who finds nothing to book files a request, then waits for its
    offer and confirms it. True when booked."""
    rng, c, me, ip = random.Random(seed), b.client(), person(kind), new_ip()
    request = None
    if kind == "honest":
        nap(rng.uniform(0, HONEST_MEAN_S), stop_at)
    while time.monotonic() < stop_at:
        if request is None:
            if book_one_of_the_first(b, c, site, me, ip):
                return True
            request = file_request(b, c, site, me, ip)
        elif confirms_offer(b, c, request):
            return True
        nap(BOT_PAUSE_S if kind == "bot" else rng.expovariate(1 / HONEST_MEAN_S), stop_at)
    return False


def auto_bots_row(b, rounds, bots, honest, slots):
    tot = {"bot": 0, "honest": 0}
    for _ in range(rounds):
        for k, v in auto_market(b, bots, honest, slots, window=3, duration=3 * DRAW_TICK_S).items():
            tot[k] += v
    nb, nh = bots * rounds, honest * rounds
    return {"scenario": "bot vs honest", "mode": "auto", "runs": rounds, "at_once": "–", "transfer": "–",
            "buyer": "–", "fair": f"{slots}/{bots + honest} = {slots / (bots + honest):.0%}",
            "notes": f"{slots} slots published at random over 3 s, {bots} bots (poll every 10 ms, join the standby list "
                     f"at once), {honest} honest, draws every {DRAW_TICK_S:.0f} s: "
                     f"bots won {rate(tot['bot'], nb)}, honest won {rate(tot['honest'], nh)}"}


def bots_rows(b, rounds_fcfs, rounds_draw, bots, honest, slots):
    tot = {"bot": 0, "honest": 0}
    for _ in range(rounds_fcfs):
        for k, v in fcfs_market(b, bots, honest, slots, window=3, duration=6).items():
            tot[k] += v
    nb, nh = bots * rounds_fcfs, honest * rounds_fcfs
    rows = [{"scenario": "bot vs honest", "mode": "fcfs", "runs": rounds_fcfs, "at_once": "–", "transfer": "–",
             "buyer": "–", "fair": f"{slots}/{bots + honest} = {slots / (bots + honest):.0%}",
             "notes": f"{slots} slots published at random over 3 s, {bots} bots, {honest} honest: "
                      f"bots won {rate(tot['bot'], nb)}, honest won {rate(tot['honest'], nh)}"}]
    tot = {"bot": 0, "honest": 0}
    for _ in range(rounds_draw):
        for k, v in draw_market(b, bots, honest, slots).items():
            tot[k] += v
    nb, nh = bots * rounds_draw, honest * rounds_draw
    rows.append({"scenario": "bot vs honest", "mode": "draw", "runs": rounds_draw, "at_once": "–", "transfer": "–",
                 "buyer": "–", "fair": f"{slots}/{bots + honest} = {slots / (bots + honest):.0%}",
                 "notes": f"{slots} slots per draw, {bots} bots (filed first, refiled 3x: 409), {honest} honest: "
                          f"bots won {rate(tot['bot'], nb)}, honest won {rate(tot['honest'], nh)}"})
    return rows


# --- (d) hold cycling -----------------------------------------------------------------------

def cycling_fcfs(b, slots, honest, duration, cycling, pool, policy=FAST):
    """A trafficker's bot holds every slot it sees with an identity from a pool of `pool` fake
    identities (each on its own IP) and lets the hold go at once (release), to deny inventory;
    honest applicants check now and then. Returns (honest booked, holds taken, cooldown refusals).

    In auto an honest applicant who finds nothing joins the standby list and confirms the offer a
    draw makes (the draw tick runs every DRAW_TICK_S)."""
    auto = policy["allocation"] == "auto"
    site = b.site(policy, slots_closes=f"{9 + slots}:00")
    stop_at = time.monotonic() + duration
    identities = [(person("fake"), new_ip()) for _ in range(pool)]
    trafficker = functools.partial(cycle_holds, b, site, identities, stop_at) if cycling else (lambda: (0, 0))
    with draws_ticking(b, site, ticking=auto):
        (holds, cooldown), *booked = together(
            trafficker, *[functools.partial(honest_checker, b, site, auto, stop_at, b.rng.random()) for _ in range(honest)])
    return sum(booked), holds, cooldown


def cycle_holds(b, site, identities, stop_at):
    """The trafficker's bot: holds every slot listed, each time with the next fake identity, and
    releases it at once. Returns (holds taken, holds refused for cooldown)."""
    c, k, holds, cooldown = b.client(), 0, 0, 0
    while time.monotonic() < stop_at:
        for slot in b.slot_ids_now(c, site):
            who, ip = identities[k % len(identities)]
            k += 1
            r = c.hold(slot, who, ip=ip)
            if r.status == 201:
                holds += 1
                c.release(r.body)
            elif r.code == "cooldown":
                cooldown += 1
        time.sleep(BOT_PAUSE_S)
    return holds, cooldown


def honest_checker(b, site, auto, stop_at, seed):
    """An honest applicant checking now and then: books a listed slot; in auto, when nothing is
    listed, joins the standby list and then only waits for the offer. True when booked."""
    rng, c, me, ip = random.Random(seed), b.client(), person("honest"), new_ip()
    request = None
    nap(rng.uniform(0, HONEST_MEAN_S), stop_at)
    while time.monotonic() < stop_at:
        if request:
            if confirms_offer(b, c, request):
                return True
        else:
            free = b.slot_ids_now(c, site)
            if free and holds_and_confirms(c, rng.choice(free), me, ip):
                return True
            if not free and auto:
                request = file_request(b, c, site, me, ip)
        nap(rng.expovariate(1 / HONEST_MEAN_S), stop_at)
    return False


def cycling_rows(b, duration, slots, honest):
    base = cycling_fcfs(b, slots, honest, duration, cycling=False, pool=1)[0]
    rows = [{"scenario": "(d) hold cycling: baseline, no trafficker", "mode": "fcfs", "runs": 1, "at_once": "–",
             "transfer": "–", "buyer": "–", "fair": "–",
             "notes": f"{slots} slots, {honest} honest over {duration} s: honest booked {base}"}]
    for pool in (2, 50):
        booked, holds, cooldown = cycling_fcfs(b, slots, honest, duration, cycling=True, pool=pool)
        rows.append({"scenario": f"(d) hold cycling, {pool} fake identities", "mode": "fcfs", "runs": 1, "at_once": "–",
                     "transfer": "–", "buyer": "–", "fair": "–",
                     "notes": f"honest booked {booked} (baseline {base}); trafficker holds {holds}, "
                              f"refused for cooldown {cooldown}"})
    auto_s = max(duration, 3 * DRAW_TICK_S)  # time for draws to come round and offers to be confirmed
    base_auto = cycling_fcfs(b, slots, honest, auto_s, cycling=False, pool=1, policy=AUTO)[0]
    booked, holds, cooldown = cycling_fcfs(b, slots, honest, auto_s, cycling=True, pool=50, policy=AUTO)
    rows.append({"scenario": "(d) hold cycling, 50 fake identities", "mode": "auto", "runs": 1, "at_once": "–",
                 "transfer": "–", "buyer": "–", "fair": "–",
                 "notes": f"honest booked {booked} (fcfs baseline {base}, auto baseline {base_auto}); trafficker holds "
                          f"{holds}, refused for cooldown {cooldown}; over {auto_s:.0f} s, honest who find nothing join the "
                          f"standby list, draws every {DRAW_TICK_S:.0f} s"})
    # draw mode: hold cycling is impossible (no holds); its analogue, fakes winning offers and
    # withdrawing them, lands the fakes in cooldown and the slots in the next draw.
    site = b.site(DRAW, slots_closes=f"{9 + slots}:00")
    api = b.client()
    fakes = []
    for _ in range(8):
        who = person("fake")
        fakes.append((who, b.file(api, site, who).body))
    honest_reqs = [b.file(api, site, person("honest")).body for _ in range(honest)]
    refiled = refused = honest_booked = fake_offers = 0
    for _ in range(3):
        b.run_draw(site)
        for i, (who, r) in enumerate(fakes):
            if r and b.offer_of(api, r):
                assert b.withdraw(api, r).status == 204
                again = b.file(api, site, who)
                refiled += 1
                refused += again.status == 429 and again.code == "cooldown"
                fakes[i] = (who, again.body if again.status == 201 else None)
                fake_offers += 1
        for r in honest_reqs:
            offer = b.offer_of(api, r)
            if offer and api.confirm(offer).status == 201:
                honest_booked += 1
    rows.append({"scenario": "(d) offer cycling: 8 fakes withdraw won offers", "mode": "draw", "runs": 3,
                 "at_once": "–", "transfer": "–", "buyer": "–", "fair": "–",
                 "notes": f"{slots} slots, {honest} honest, 3 draws: honest booked {honest_booked}; "
                          f"fakes won and withdrew {fake_offers} offers (each slot back in the next draw); "
                          f"fakes refiling after withdrawing refused for cooldown {refused}/{refiled}"})
    return rows


# --- near-term release (R3, docs/fairness.md) ------------------------------------------------

NEAR = dict(FAST, quarantine_min_seconds=10, quarantine_max_seconds=100, release_window_min_seconds=20,
            hold_ttl_seconds=60)


def near_term_row(b, trials, lead_s=50, late_s=30):
    """Slots starting about a minute from now; a booking is cancelled `lead_s` before its start
    (the old rule brought it back at exactly now + lead_s/2) and a bot polls POST /holds until the
    start. Another set is cancelled `late_s` before (less than twice release_window_min): those
    must never come back online. All trials run side by side on their own sites."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Paris")
    start = (datetime.now(tz) + timedelta(seconds=lead_s + 40)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    opens, closes = start.strftime("%H:%M"), (start + timedelta(minutes=5)).strftime("%H:%M")
    if start.date() != datetime.now(tz).date() or start.date() != date.today():
        return {"scenario": "near-term release", "mode": "fcfs", "runs": 0, "at_once": "–", "transfer": "–", "buyer": "–",
                "fair": "–", "notes": "skipped: too close to midnight"}
    jobs = []
    for lead in [lead_s] * trials + [late_s] * max(2, trials // 2):
        site = f"adv-{os.getpid()}-{next(_sites)}"
        b.admin.create_site(site_id=site)
        b.admin.set_policy(site_id=site, **NEAR)
        b.admin.schedule(site_id=site, opens=opens, closes=closes, slot_minutes=5, start_in_days=0)
        api = b.client()
        slot = b.slot_ids_now(api, site)[0]
        jobs.append({"lead": lead, "slot": slot, "booking": api.book(slot, person("fake"), ip=new_ip())})
    starts = start.timestamp()

    def run(job):
        c, buyer, ip = b.client(), person("buyer"), new_ip()
        time.sleep(max(0.0, starts - job["lead"] - time.time()))
        cancelled = time.time()
        assert c.cancel(job["booking"]).status == 204
        job["old_instant"] = cancelled + (starts - cancelled) / 2
        while time.time() < starts - 1:
            if c.hold(job["slot"], buyer, ip=ip).status == 201:
                job["back_after"] = time.time() - cancelled
                job["off_old_instant"] = time.time() - job["old_instant"]
                return
            time.sleep(BOT_PAUSE_S)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    near = [j for j in jobs if j["lead"] == lead_s]
    late = [j for j in jobs if j["lead"] == late_s]
    back = sorted(j["back_after"] for j in near if "back_after" in j)
    at_old = sum(abs(j["off_old_instant"]) < 0.5 for j in near if "off_old_instant" in j)
    spread = f"{back[0]:.1f}–{back[-1]:.1f} s after the cancel" if back else "never"
    return {"scenario": "near-term release", "mode": "fcfs", "runs": len(jobs), "at_once": "–", "transfer": "–",
            "buyer": "–", "fair": "–",
            "notes": f"cancelled {lead_s} s before the start (quarantine 10–100 s, window min 20 s): back online "
                     f"{len(back)}/{len(near)}, {spread} (old rule: always {lead_s / 2:.0f} s); a bot's hold within "
                     f"0.5 s of the old instant {at_old}/{len(near)}; cancelled {late_s} s before: back online "
                     f"{sum('back_after' in j for j in late)}/{len(late)} (freed_late, kept for the counter)"}


# --- (e) many identities behind one IP ------------------------------------------------------

def one_ip_rows(b, identities, limit):
    site = b.site(dict(FAST, max_holds_per_ip_per_hour=limit), slots_closes="12:00", slot_minutes=15, days=3)
    api = b.client()
    ip = new_ip()
    slots = b.slot_ids_now(api, site)
    statuses = [api.hold(slots[i], person("fake"), ip=ip) for i in range(identities)]
    holds = sum(r.status == 201 for r in statuses)
    limited = sum(r.code == "rate_limited" for r in statuses)
    other_ip = api.hold(slots[identities], person("honest"), ip=new_ip()).status
    rows = [{"scenario": "(e) one IP, many identities: holds", "mode": "fcfs", "runs": 1, "at_once": "–", "transfer": "–",
             "buyer": "–", "fair": f"limit {limit}/h",
             "notes": f"{identities} identities from one IP: {holds} holds, {limited} refused 429 rate_limited; "
                      f"another IP at once: {other_ip}"}]
    site = b.site(dict(DRAW, max_holds_per_ip_per_hour=limit))
    filed = [b.file(api, site, person("fake"), ip=ip) for _ in range(identities)]
    accepted = sum(r.status == 201 for r in filed)
    limited = sum(r.code == "rate_limited" for r in filed)
    other_ip = b.file(api, site, person("honest"), ip=new_ip()).status
    rows.append({"scenario": "(e) one IP, many identities: requests", "mode": "draw", "runs": 1, "at_once": "–",
                 "transfer": "–", "buyer": "–", "fair": f"limit {limit}/h",
                 "notes": f"{identities} requests with fake identities from one IP: {accepted} accepted, "
                          f"{limited} refused 429 rate_limited; another IP at once: {other_ip}"})
    return rows


# --- (g) the doors beside search: the partner share, partner requests, withdrawals ------------

def partner_site(b, policy):
    """A site whose share reserved to partners is one slot of three, and a partner key for it."""
    site = f"adv-{os.getpid()}-{next(_sites)}"
    b.admin.create_site(site_id=site)
    b.admin.set_policy(site_id=site, **dict(policy, partner_share=1 / 3, partner_release_lead_seconds=3600))
    b.admin.schedule(site_id=site, closes="12:00", publish="now")
    partner = b.admin.create_partner(name=f"Asso {site}", daily_quota=1000, sites=(site,))
    public = set(b.slot_ids_now(b.admin, site))
    reserved = [s["slot_id"] for s in b.admin.partner_slots(partner, site_id=site) if s["slot_id"] not in public]
    return site, partner, reserved[0], sorted(public)


def partner_transfer_search_row(b, trials):
    """The partner books its reserved slot for a fake, cancels, then polls its own search (which
    shows the reserved share) and the public search side by side: a transfer is the partner
    holding the slot for the buyer while the public still cannot."""
    transfers, later = 0, 0
    for _ in range(trials):
        site, partner, reserved, _ = partner_site(b, FAST)
        api = b.client()
        booked = api.partner_book(partner, reserved, person("fake"))
        api.partner_cancel(partner, booked["booking_id"])
        stop_at = time.monotonic() + FAST["quarantine_max_seconds"] + 1.5
        while time.monotonic() < stop_at:
            public = reserved in b.slot_ids_now(api, site)
            if reserved in {s["slot_id"] for s in api.partner_slots(partner, site_id=site)}:
                if api.partner_hold(partner, reserved, person("buyer")).status == 201:
                    transfers += not public
                    later += public
                    break
            time.sleep(BOT_PAUSE_S)
    return {"scenario": "(g) partner share: cancel, then rebook for the buyer", "mode": "auto", "runs": trials, "at_once": "–",
            "transfer": rate(transfers, trials), "buyer": rate(later, trials), "fair": "0 exclusive",
            "notes": f"freed reserved slot held by the partner while public search could not see it: {transfers}/{trials}; "
                     f"held once public like anyone (a race any bot may run): {later}/{trials}"}


def partner_transfer_draw_row(b, trials):
    """An honest public request and the partner's request for the buyer wait; the partner cancels
    its reserved booking; the draw gives the slot: a transfer is the buyer getting it."""
    buyer_wins = 0
    policy = dict(AUTO, draw_interval_seconds=3600)
    for _ in range(trials):
        site, partner, reserved, public = partner_site(b, policy)
        api = b.client()
        for slot in public:
            api.book(slot, person("honest"), ip=new_ip())
        booked = api.partner_book(partner, reserved, person("fake"))
        b.file(api, site, person("honest"))
        body = {"site_id": site, "procedure_id": PROCEDURE, "applicant": person("buyer"),
                "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
        buyer = api.call("POST", "/partner/requests", body, api.partner_headers(partner)).body
        api.partner_cancel(partner, booked["booking_id"])
        b.run_draw(site)
        buyer_wins += b.offer_of(api, buyer) is not None
    return {"scenario": "(g) partner share: cancel while the buyer waits in the draw", "mode": "auto", "runs": trials, "at_once": "–",
            "transfer": rate(buyer_wins, trials), "buyer": rate(buyer_wins, trials), "fair": "1/2 = 50%",
            "notes": f"one honest public request and the partner's request for the buyer: the buyer was offered the freed "
                     f"reserved slot {buyer_wins}/{trials}"}


def partner_quota_row(b, quota=1, attempts=40):
    site = b.site(dict(AUTO))
    api = b.client()
    for slot in b.slot_ids_now(api, site):
        api.book(slot, person("honest"), ip=new_ip())
    partner = b.admin.create_partner(name=f"Asso {site}", daily_quota=quota, sites=(site,))
    answers = []
    for _ in range(attempts):
        body = {"site_id": site, "procedure_id": PROCEDURE, "applicant": person("fake"), "permit_expires_on": date.today().isoformat(),
                "from": date.today().isoformat(), "to": (date.today() + timedelta(days=30)).isoformat()}
        answers.append(api.call("POST", "/partner/requests", body, api.partner_headers(partner)))
    accepted = sum(a.status == 201 for a in answers)
    return {"scenario": "(g) partner requests beyond its quota", "mode": "auto", "runs": 1, "at_once": "–",
            "transfer": f"{max(0, accepted - quota)} beyond quota", "buyer": "–", "fair": f"quota {quota}/day",
            "notes": f"{attempts} requests under made-up identities, each declared urgent, daily_quota {quota}: {accepted} accepted, "
                     f"{sum(a.code == 'partner_quota_exceeded' for a in answers)} refused 429 partner_quota_exceeded"}


def withdrawal_release_row(b, trials):
    """Fresh slots published while a standby request covers their day; the trafficker withdraws
    the request and the buyer's bot polls search from that instant: holds it gets in the second
    that follows (before a fresh random release instant could come)."""
    got, visible = 0, 0
    for _ in range(trials):
        api, request = b.client(), {}
        while "request_id" not in request:  # filed before the first publication instant (else: 409 slots_available)
            site = b.site(dict(AUTO, publish_window_seconds=10, quarantine_min_seconds=3, quarantine_max_seconds=6),
                          publish="random_window")
            request = b.file(api, site, person("fake")).body
        time.sleep(10.2)  # every publication instant has passed: the request keeps them from search
        b.withdraw(api, request)
        stop_at = time.monotonic() + 1.0
        while time.monotonic() < stop_at:
            slots = b.slot_ids_now(api, site)
            visible += bool(slots)
            if slots and api.hold(slots[0], person("buyer"), ip=new_ip()).status == 201:
                got += 1
                break
            time.sleep(BOT_PAUSE_S)
    return {"scenario": "(g) withdraw the covering request, poll at once", "mode": "auto", "runs": trials, "at_once": rate(got, trials),
            "transfer": rate(got, trials), "buyer": "–", "fair": "0",
            "notes": f"3 fresh slots hidden by a standby request; within 1 s of its withdrawal the buyer's bot held one in "
                     f"{got}/{trials} runs (searches that showed any slot: {visible})"}


def proof_rows(fakes):
    """(h) proven identities (R10), bench/proofs.py's scenarios in this table: fakes against the
    registry, the four griefing paths, fakes with their own mailboxes under `contact`, the registry
    down. On a stack of their own, with the default limits on codes (20 an hour per IP, 5 per
    identity); the honest applicant's cost is bench/proofs.py's alone."""
    from bench import proofs

    proc, base, engine_url, _pid = start_stack(VERIFICATION_MAX_PER_IP_PER_HOUR="20", VERIFICATION_MAX_PER_IDENTITY_PER_HOUR="5")
    try:
        api = Api(base, staff_secret=STAFF_SECRET)
        lines = [proofs.fakes_against_the_registry(api, fakes), proofs.griefing(api), proofs.contact_fakes_from_one_ip(api, fakes),
                 proofs.registry_down(api, engine_url, fakes)]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    rows = []
    for line in lines:
        scenario, measure, result, target = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows.append({"scenario": f"(h) {scenario}", "mode": "auto", "runs": 1, "at_once": "–", "transfer": result, "buyer": "–",
                     "fair": f"target {target}", "notes": measure})
    return rows


def channel_rows(b, trials):
    return [partner_transfer_search_row(b, trials), partner_transfer_draw_row(b, trials), partner_quota_row(b),
            withdrawal_release_row(b, trials)]


# --- main -----------------------------------------------------------------------------------

COLUMNS = [("scenario", "scenario"), ("mode", "mode"), ("runs", "runs"), ("at_once", "buyer at once"),
           ("transfer", "transfers"), ("buyer", "buyer wins"), ("fair", "fair share"), ("notes", "notes")]


def table(rows):
    out = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(str(r[k]) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join(out)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer trials (about a minute and a half)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the agents' own randomness (the server's is its own)")
    parser.add_argument("--only", default=None, help="run only the steps whose name contains one of these comma-separated words (e.g. auto,(d),near)")
    args = parser.parse_args()
    q = args.quick
    n_fcfs, n_draw, n_f, n_bots_fcfs, n_bots_draw = (2, 6, 8, 1, 4) if q else (20, 40, 60, 3, 30)
    n_auto, n_bots_auto, n_near = (6, 1, 4) if q else (20, 5, 8)
    cycle_s = 6 if q else 12

    started = time.monotonic()
    proc, base, _engine, _pid = start_stack()
    b = Bench(base, random.Random(args.seed))
    rows = []
    try:
        def step(name, fn, *a):
            if args.only and not any(part in name for part in args.only.split(",")):
                return
            t = time.monotonic()
            got = fn(*a)
            rows.extend(got if isinstance(got, list) else [got])
            print(f"  {name}: {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)

        step("fcfs (a) alone", fcfs_race_row, b, "cancel", "(a) cancel-and-rebook, buyer's bot vs honest only", n_fcfs, 0, 4)
        step("fcfs (a) rivals", fcfs_race_row, b, "cancel", "(a) cancel-and-rebook", n_fcfs, 3, 4)
        step("fcfs (b)", fcfs_race_row, b, "release", "(b) release-and-rehold", n_fcfs, 3, 4)
        step("fcfs (c)", fcfs_race_row, b, "expiry", "(c) expiry-and-rehold", n_fcfs, 3, 4)
        step("auto (a) alone", auto_race_row, b, "cancel", "(a) cancel-and-rebook, buyer's bot vs honest only", n_auto, 0, 4)
        step("auto (a) rivals", auto_race_row, b, "cancel", "(a) cancel-and-rebook", n_auto, 3, 4)
        step("auto (b)", auto_race_row, b, "release", "(b) release-and-rehold", n_auto, 3, 4)
        step("auto (c)", auto_race_row, b, "expiry", "(c) expiry-and-rehold", n_auto, 3, 4)
        step("draw (a)", draw_race_row, b, "cancel", "(a) cancel before the draw", n_draw, 5)
        step("draw (b)", draw_race_row, b, "release", "(b) offer withdrawn before the draw", n_draw, 5)
        step("draw (c)", draw_race_row, b, "expiry", "(c) offer left to lapse", max(4, n_draw // 2), 5)
        step("(f)", buyer_in_draw_row, b, n_f, 3, 4)
        step("(f')", buyer_in_draw_row, b, n_f // 2, 3, 4, True, 1)
        step("bots", bots_rows, b, n_bots_fcfs, n_bots_draw, 4, 8, 4)
        step("bots auto", auto_bots_row, b, n_bots_auto, 4, 8, 4)
        step("(d)", cycling_rows, b, cycle_s, 4, 6)
        step("(e)", one_ip_rows, b, 30, 5)
        step("near-term", near_term_row, b, n_near)
        step("(g) channels", channel_rows, b, 4 if q else 10)
        step("(h) proven identities", proof_rows, 20 if q else 50)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print()
    print(table(rows))
    print()
    only = f" --only {args.only}" if args.only else ""
    print(f"Reproduce: `.venv/bin/python bench/adversarial.py{' --quick' if q else ''}{only} --seed {args.seed}` "
          f"(loopback, local stack; this run took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
