"""Draw runs (SPEC R6): taking a due draw, allocating, recording, making offers, releasing what no offer took."""
import random
from datetime import date, timedelta
from enum import Enum
from typing import Any, Final

from chalicelib import storage
from chalicelib.platform import clock, config
from chalicelib.platform.clock import epoch_of, parse_instant, to_rfc3339, utc_key
from chalicelib.platform.observability import logger, metric
from chalicelib.platform.tokens import new_id, token_hash
from chalicelib.rules import identity_keys, lifecycle, lottery, policies, records, refusals
from chalicelib.rules.errors import Conflict, StorageUnavailable
from chalicelib.rules.policies import Policy
from chalicelib.rules.records import StaffRun
from chalicelib.usecases import View, draw_requests, draw_terms, fraud_signals, notify, site_catalog, standby

_rng = random.SystemRandom()
# A draw's allocation: [request id, slot id] pairs, as lottery.allocate gives them and the record keeps them.
Allocation = list[Any]


def _unfinished_draw(site_id: str, procedure_id: str) -> records.Draw | None:
    return next((d for d in storage.draws_of(site_id, procedure_id, limit=3) if d.status in draw_terms.UNFINISHED), None)


def _lease_over(draw: records.Draw, now: float) -> bool:
    return draw.lease_until is None or draw.lease_until <= now


def _released(draw: records.Draw) -> bool:
    """Left by a run that stopped at its time budget (not a crash): the next run goes on."""
    return draw.runner is None and draw.lease_until is not None


class _Lease:
    """The runner's hold on its draw: renewed once a third of it has passed, so a live run is
    never taken over and a crashed one is resumed one lease later. Losing it stops the run."""

    def __init__(self, draw: records.Draw, runner: str, started: float) -> None:
        self.draw, self.runner, self.renewed = draw, runner, started

    def until(self, at: float) -> float:
        return round(at + config.current().draw_lease_seconds, 3)

    def keep(self, progress: tuple[int, int, int] | None = None) -> None:
        at = clock.now()
        if at - self.renewed < config.current().draw_lease_seconds / 3:
            return
        result = storage.renew_draw_lease(self.draw, self.runner, self.until(at), progress)
        if not result.ok:
            raise refusals.DRAW_RUNNING.exception()
        self.renewed = at


def _take_draw(site_id: str, procedure_id: str, now: float, staff: StaffRun | None = None) -> tuple[records.Draw, str, bool]:
    """The draw this run is in charge of: an unfinished one whose lease passed (resumed), else the
    committed one (claimed). 409 while another run holds a lease."""
    runner = new_id("run")
    until = round(now + config.current().draw_lease_seconds, 3)
    unfinished = _unfinished_draw(site_id, procedure_id)
    if unfinished is not None:
        released = _released(unfinished)
        result = (storage.take_over_stale_draw(unfinished, now, runner, until) if _lease_over(unfinished, now)
                  else records.Outcome.refused("lease"))  # its runner's lease still runs: not ours to take
        if not result.ok:
            raise refusals.draw_running(unfinished.lease_until, now).exception()
        taken = result.value
        if not released:  # taken over from a run that died
            metric("DrawResumed", site=site_id)
            logger().info("draw resumed", extra={"draw_id": taken.draw_id, "status": taken.status,
                                                 "attempt": int(taken.attempt)})
        return taken, runner, True
    result = storage.claim_committed_draw(draw_terms.pending_draw(site_id, procedure_id, now), now, runner, until, staff)
    if not result.ok:
        raise refusals.draw_running(None, now).exception()
    return result.value, runner, False


def _entrants_and_slots(draw: records.Draw, policy: Policy, timezone: str,
                        now: float) -> tuple[list[lottery.Entrant], list[lottery.PoolSlot], dict[str, records.Request],
                                             dict[str, records.Slot], list[records.Slot]]:
    """What a draw allocates: the waiting requests and the slots it may give, as lottery.allocate
    reads them, with the stored items by id for the offers, and every free slot read."""
    today, site_id, procedure_id = clock.utc_date(now), draw.site_id, draw.procedure_id
    requests = [r for r in storage.waiting_requests(site_id, procedure_id) if draw_requests.request_status(r, now) == "waiting"]
    free = _free_slots(site_id, procedure_id, now)
    slots = _drawable(free, requests, policy, timezone, now)
    # In the order of their identity tags: the record says nothing of who filed first.
    entrants = sorted((_entrant(r, slots, today, draw) for r in requests), key=lambda e: e["entrant_tag"])
    pool = [_pool_slot(s, timezone, now) for s in slots]
    return entrants, pool, {r.request_id: r for r in requests}, {s.slot_id: s for s in slots}, free


def _entrant(request: records.Request, slots: list[records.Slot], today: date, draw: records.Draw) -> lottery.Entrant:
    """A waiting request as lottery.allocate reads it: its identity tag in this draw (its
    ticket's name), its tier, its days, the slots it let go (never offered back to it) and
    whether a partner filed it."""
    entrant = lottery.Entrant(
        request_id=request.request_id,
        entrant_tag=identity_keys.entrant_tag(request.identity_key, draw.site_id, draw.procedure_id, draw.draw_id),
        tier=lottery.request_tier(date.fromisoformat(request.permit_expires_on) if request.permit_expires_on else None, today),
        first_day=request.first_day,
        last_day=request.last_day,
        excluded_slots=sorted(s.slot_id for s in slots
                              if identity_keys.slot_tag(request.identity_key, s.slot_id) in (s.freed_by, s.hold_identity)),
    )
    if request.partner_id:
        entrant["partner"] = True
    return entrant


def _pool_slot(slot: records.Slot, timezone: str, now: float) -> lottery.PoolSlot:
    """A free slot as lottery.allocate reads it: its local day, and whether partners have it still."""
    pooled = lottery.PoolSlot(slot_id=slot.slot_id, day=lifecycle.local_date(parse_instant(slot.starts_at), timezone))
    if slot.reserved_until is not None and slot.reserved_until > now:
        pooled["reserved"] = True
    return pooled


def _make_offers(draw: records.Draw, allocation: Allocation, by_request: dict[str, records.Request], by_slot: dict[str, records.Slot], policy: Policy,
                 now: float, lease: _Lease, deadline: float) -> tuple[int, int, int]:
    """Each allocated pair's offer in order, idempotently, from where the last run's saved
    progress says, until the deadline: (pairs done, offered or found made, not possible)."""
    day = clock.utc_date(draw.run_at)  # type: ignore[arg-type]  # the draw's day (it has run), also when a later run resumes it
    done, offered, skipped = int(draw.offers_done or 0), int(draw.offered_count or 0), int(draw.skipped_count or 0)
    for request_id, slot_id in allocation[done:]:
        if clock.now() >= deadline:
            break
        request, slot = by_request.get(request_id), by_slot.get(slot_id)
        outcome = refusals.OFFER_NOT_POSSIBLE
        if request is not None and slot is not None:
            expires_at = round(now + policy.offer_ttl_seconds, 3)
            hold_id = draw_terms.offer_hold_id(draw, request_id)
            hold = records.Hold(
                hold_id=hold_id,
                token_hash=token_hash(draw_terms.offer_token(hold_id)),
                slot_id=slot.slot_id, site_id=slot.site_id, procedure_id=slot.procedure_id,
                starts_at=slot.starts_at, ends_at=slot.ends_at,
                identity_key=request.identity_key, applicant=request.applicant,
                expires_at=expires_at, status="active", request_id=request_id,
                created_at=now, purge_at=request.purge_at,
                # The booking it becomes keeps them: the counter checks a declared urgency (R7).
                tier=lottery.request_tier(date.fromisoformat(request.permit_expires_on) if request.permit_expires_on else None, day),
                permit_expires_on=request.permit_expires_on, draw_day=day.isoformat(),
            )
            outcome = refusals.offer_outcome(storage.make_offer_if_still_possible(
                request, slot, hold, now, round(lifecycle.cooldown_until(expires_at, policy), 3),
                available_from_after=_lapsed_offer_back(expires_at, slot, policy), signals=fraud_signals.lapsed_partner_hold(now, slot)))
        if outcome == refusals.OFFER_NOT_POSSIBLE:
            skipped += 1
            logger().info("draw offer not possible", extra={"draw_id": draw.draw_id, "request_id": request_id, "slot_id": slot_id})
        else:
            offered += 1
        done += 1
        lease.keep((done, offered, skipped))
    return done, offered, skipped


def run_draw(site_id: str, procedure_id: str, now: float, budget_seconds: float | None = None, staff: StaffRun | None = None) -> View:
    """Run the committed draw, or resume an unfinished one whose runner's lease passed.

    Write-ahead: the entrants and free slots are read, lottery.allocate decides with the committed
    seed, and the whole record (entrants, slots, allocation) is stored in bounded chunks; only
    then is the draw marked allocating (its seed public) and are the offers made, each one
    transaction that a resumed run finds already made. A draw that crashed before its record was
    complete is run again with the same seed on entrants and slots read again; once recorded it
    is only ever completed from its record. Past `budget_seconds` (staff: DRAW_STAFF_BUDGET_SECONDS)
    the run stops making offers, saves its progress and releases the draw: the answer says what
    remains and the next run (staff or tick) goes on. A new commitment is published for the next
    draw once it is done."""
    deadline = clock.now() + (config.current().draw_staff_budget_seconds if budget_seconds is None else budget_seconds)
    found = site_catalog.procedure(site_id, procedure_id)
    policy = site_catalog.policy(site_id, procedure_id)
    if not lifecycle.standby_allowed(policy):
        raise refusals.NOT_DRAW.exception()
    draw, runner, resumed = _take_draw(site_id, procedure_id, now, staff)
    lease = _Lease(draw, runner, clock.now())
    if draw.status == "running":
        draw, allocation, pool, by_request, by_slot, free = _record(draw, runner, lease, policy, found.timezone, now)
    else:  # allocating: the record decides, the draw is never drawn again
        allocation, pool, by_request, by_slot, free = _recorded(draw)
    done, offered, skipped = _make_offers(draw, allocation, by_request, by_slot, policy, now, lease, deadline)
    assert draw.entrant_count is not None and draw.slot_count is not None, "counted when recorded"
    result = {"draw_id": draw.draw_id, "entrants": int(draw.entrant_count), "slots": int(draw.slot_count),
              "offered": offered, "skipped": skipped, "resumed": resumed}
    if done < len(allocation):
        released = storage.release_draw(draw, runner, clock.now(), (done, offered, skipped))
        if not released.ok:
            raise refusals.DRAW_RUNNING.exception()
        return {**result, "status": "allocating", "remaining": len(allocation) - done}
    standby.forget_standby(site_id, procedure_id)
    if policy.allocation == policies.AUTO:  # while still allocating: a crash here is resumed, and this repeated
        _release_what_was_not_given(site_id, procedure_id, allocation, pool, free, policy, now)
    marked = storage.mark_draw_run(draw, runner, offered, skipped, now)
    if not marked.ok:
        raise refusals.DRAW_RUNNING.exception()
    draw_terms.pending_draw(site_id, procedure_id, now + 0.001)
    metric("DrawRun", site=site_id)
    metric("OffersMade", value=offered, site=site_id)
    send_pending_offers(site_id, procedure_id, now)
    return {**result, "status": "run", "remaining": 0}


def _recorded(draw: records.Draw) -> tuple[Allocation, list[lottery.PoolSlot], dict[str, records.Request], dict[str, records.Slot], None]:
    """A recorded draw's allocation and slots pool, from its record, with the stored items by id
    (free slots: not read)."""
    record = storage.read_draw_record(draw)
    allocation = record["allocation"]
    by_request = storage.requests_by_id({request_id for request_id, _ in allocation})
    by_slot = storage.slots_by_id({slot_id for _, slot_id in allocation})
    return allocation, record["slots"], by_request, by_slot, None


def _release_what_was_not_given(site_id: str, procedure_id: str, allocation: Allocation, pool: list[lottery.PoolSlot], free: list[records.Slot] | None,
                                policy: Policy, now: float) -> None:
    """auto: the free slots of the draw's pool (or marked for it) that no offer took."""
    given, pooled = {slot_id for _, slot_id in allocation}, {s["slot_id"] for s in pool}
    free = _free_slots(site_id, procedure_id, now) if free is None else free
    _release_leftovers([s for s in free if s.slot_id not in given and (s.draw_from is not None or s.slot_id in pooled)],
                       policy, now)


def _record(draw: records.Draw, runner: str, lease: _Lease, policy: Policy, timezone: str,
            now: float) -> tuple[records.Draw, Allocation, list[lottery.PoolSlot], dict[str, records.Request],
                                 dict[str, records.Slot], list[records.Slot] | None]:
    """The write-ahead step: entrants and slots read, allocated with the committed seed, the
    record stored in chunks, then the draw marked allocating (its seed public). Returns the
    draw as marked, the allocation, the slots pool, the stored items by id and every free slot."""
    entrants, pool, by_request, by_slot, free = _entrants_and_slots(draw, policy, timezone, now)
    seed = draw_terms.committed_seed(draw)  # opened here, by the draw function only
    allocation = [list(pair) for pair in lottery.allocate(entrants, pool, seed)]
    assert draw.attempt is not None, "a running draw has its attempt"
    parts = storage.record_draw_chunks(draw, draw.attempt, {"entrants": entrants, "slots": pool, "allocation": allocation},
                                       after_each=lease.keep)
    if not parts.ok:
        raise refusals.DRAW_RUNNING.exception()
    counts = {"entrants": len(entrants), "slots": len(pool), "allocation": len(allocation)}
    revealed = {"seed": seed, "entrants_hash": lottery.entrants_digest(entrants)}
    recorded = storage.mark_draw_recorded(draw, runner, parts.value, counts, now, lease.until(clock.now()), revealed)
    if not recorded.ok:
        raise refusals.DRAW_RUNNING.exception()
    return recorded.value, allocation, pool, by_request, by_slot, free


def _drawable(slots: list[records.Slot], requests: list[records.Request], policy: Policy, tz: str, now: float) -> list[records.Slot]:
    """The free slots a draw gives: those that leave time to confirm an offer; in auto only those
    on days a waiting request covers (the others are search's)."""
    slots = [s for s in slots if lifecycle.offerable(epoch_of(s.starts_at), now, policy)]
    if policy.allocation != policies.AUTO:
        return slots
    ranges = [(r.first_day, r.last_day) for r in requests]
    return [s for s in slots if lifecycle.covers(ranges, lifecycle.local_date(parse_instant(s.starts_at), tz))]


def _lapsed_offer_back(expires_at: float, slot: records.Slot, policy: Policy) -> float | None:
    """auto: a lapsed offer frees its slot after a random quarantine, like any hold (if nobody
    waits then, it goes to search at an instant nobody knows); draw mode: at once, to the next draw."""
    if policy.allocation != policies.AUTO:
        return None
    starts = epoch_of(slot.starts_at)
    back = lifecycle.quarantine_end(expires_at, starts, policy, _rng)
    return round(starts if back is None else back, 3)


def _free_slots(site_id: str, procedure_id: str, now: float) -> list[records.Slot]:
    until = clock.utc_date(now) + timedelta(days=367)
    return storage.free_slots(site_id, procedure_id, to_rfc3339(now), utc_key(parse_instant(until.isoformat())), now)


def _release_leftovers(slots: list[records.Slot], policy: Policy, now: float) -> None:
    """auto: what a draw did not give away goes to search at a random instant (R3), or to the
    counter when too late; still hidden then if another standby request covers its day."""
    for slot in slots:
        back = lifecycle.quarantine_end(now, epoch_of(slot.starts_at), policy, _rng)
        # Refused: taken or moved since the draw read it, so no longer the draw's to release.
        storage.release_draw_leftover_if_unchanged(slot, now, None if back is None else round(back, 3))


def release_unclaimed(site_id: str, procedure_id: str, now: float) -> int:
    """auto with nobody waiting any more: slots marked for the draw go to search at random
    instants (the request that covered them was withdrawn or expired before a draw)."""
    policy = site_catalog.policy(site_id, procedure_id)
    marked = [s for s in _free_slots(site_id, procedure_id, now) if s.draw_from is not None]
    _release_leftovers(marked, policy, now)
    return len(marked)


def send_pending_offers(site_id: str, procedure_id: str, now: float) -> int:
    """The offer e-mails still to send (storage.offers_to_notify: written in each offer's own
    transaction). A send that fails leaves its offer pending, counted, for the next tick; a
    request no longer offered just leaves the list. Returns how many were sent."""
    sent = 0
    try:
        for request in storage.offers_to_notify(site_id, procedure_id):
            hold = storage.get_hold(request.hold_id) if request.status == "offered" and request.offer_expires_at > now else None  # type: ignore[arg-type,operator]  # offered: both set
            if hold is not None:
                try:
                    notify.offer_made(request.applicant.email, site_id, hold.starts_at, hold.expires_at,
                                      offer_id=hold.hold_id, request_id=request.request_id)
                except Exception:  # noqa: BLE001 -- the next tick tries again
                    metric("OfferNotificationFailed", site=site_id)
                    logger().warning("offer e-mail not sent", extra={"request_id": request.request_id})
                    continue
                sent += 1
            storage.offer_notified(request)  # refused: out of the list already
    except StorageUnavailable:
        # After the draw has committed its offers: they stay pending for the next tick, and
        # neither the draw's answer nor the other procedures' draws depend on it.
        metric("OfferNotificationFailed", site=site_id)
    return sent


def run_due_draws(now: float) -> list[View]:
    """The scheduled job: every draw-mode procedure whose last draw is draw_interval_seconds old,
    and every auto procedure whose waiting requests have waited that long (since the first of
    them filed or since the last draw, whichever is later: everybody who checks now and then
    gets into the first draw, not only the fastest); and any draw left unfinished past its
    runner's lease (resumed) or released by a run that reached its time budget (continued)."""
    ran = []
    deadline = clock.now() + config.current().draw_tick_budget_seconds
    for site in site_catalog.sites():
        for p in site.procedures:
            # Offers an earlier run could not e-mail (whatever the allocation is now).
            send_pending_offers(site.site_id, p["procedure_id"], now)
            run = _run_if_due(site.site_id, p["procedure_id"], now, deadline)
            if run is not None:
                ran.append(run)
    return ran


def _run_if_due(site_id: str, procedure_id: str, now: float, deadline: float) -> View | None:
    """One procedure's turn in the scheduled job: its draw's answer if it ran, else None."""
    policy = site_catalog.policy(site_id, procedure_id)
    if not lifecycle.standby_allowed(policy):
        return None
    draws = storage.draws_of(site_id, procedure_id, limit=3)
    unfinished = _unfinished(site_id, draws, now)
    last_run = _interval_start(site_id, procedure_id, policy, draws, unfinished, now)
    if last_run is _NOBODY_WAITS:
        return None
    if unfinished or last_run is None or last_run + policy.draw_interval_seconds <= now:
        return _run_unless_running(site_id, procedure_id, now, deadline)
    if not any(d.status == "committed" for d in draws):
        draw_terms.new_commitment(site_id, procedure_id, now)  # a draw procedure left without one gets it
    return None


def _unfinished(site_id: str, draws: list[records.Draw], now: float) -> list[records.Draw]:
    """The draws left unfinished past their runner's lease; one not released by its run is stuck."""
    unfinished = [d for d in draws if d.status in draw_terms.UNFINISHED and _lease_over(d, now)]
    if any(not _released(d) for d in unfinished):
        metric("DrawStuck", site=site_id)
    return unfinished


def _interval_start(site_id: str, procedure_id: str, policy: Policy, draws: list[records.Draw], unfinished: list[records.Draw],
                    now: float) -> "float | None | _NobodyWaits":
    """When the draw interval started: the last run; in auto (nothing unfinished) the auto clock."""
    last_run = next((d.run_at for d in draws if d.run_at), None)
    if policy.allocation == policies.AUTO and not unfinished:
        return _auto_draw_clock(site_id, procedure_id, draws, last_run, now)
    return last_run


def _run_unless_running(site_id: str, procedure_id: str, now: float, deadline: float) -> View | None:
    try:
        return run_draw(site_id, procedure_id, now, budget_seconds=max(0.0, deadline - clock.now()))
    except Conflict:
        return None  # another runner has it


class _NobodyWaits(Enum):
    NOBODY_WAITS = "nobody waits"


_NOBODY_WAITS: Final = _NobodyWaits.NOBODY_WAITS


def _auto_draw_clock(site_id: str, procedure_id: str, draws: list[records.Draw], last_run: float | None, now: float) -> float | _NobodyWaits:
    """When an auto procedure's draw interval started: the later of the last draw and the first
    waiting request; _NOBODY_WAITS when nobody waits (what a draw left unclaimed goes to search)."""
    if not draws:
        return _NOBODY_WAITS  # nobody ever waited: nothing can be marked for a draw
    waiting = storage.waiting_requests(site_id, procedure_id)
    if not waiting:
        release_unclaimed(site_id, procedure_id, now)
        return _NOBODY_WAITS
    return max(last_run or 0, min(r.created_at for r in waiting))
