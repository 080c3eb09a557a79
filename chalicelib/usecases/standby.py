"""Standby coverage (SPEC R3 + R6, auto allocation): which days live requests cover, and where a freed slot goes."""
import random
from datetime import date, timedelta
from typing import TypedDict

from chalicelib import storage
from chalicelib.platform import config
from chalicelib.platform.clock import epoch_of, parse_instant, utc_key
from chalicelib.rules import lifecycle, policies, records
from chalicelib.rules.policies import Policy
from chalicelib.usecases import site_catalog

_rng = random.SystemRandom()


class FreedTerms(TypedDict):
    """freed_terms: the keyword arguments storage's release, cancel and withdraw take."""
    available_from: float | None
    draw_from: float | None
    cooldown_until: float


def standby_ranges(site_id: str, procedure_id: str) -> tuple[tuple[str, str], ...]:
    """The (first_day, last_day) ranges of the procedure's waiting requests (auto allocation):
    the days whose free slots go to the next draw instead of search. One Query of the request
    pool, trusted by this process for STANDBY_CACHE_SECONDS and dropped at once when this process
    files, withdraws or draws a request; so search stays one Query a page."""
    return site_catalog.cached(("standby", site_id, procedure_id),
                   lambda: tuple(sorted({(r.first_day, r.last_day) for r in storage.waiting_requests(site_id, procedure_id)})),
                   config.current().standby_cache_seconds)


def forget_standby(site_id: str, procedure_id: str) -> None:
    site_catalog.forget_cached(("standby", site_id, procedure_id))


def standby_covers(site_id: str, procedure_id: str, policy: Policy, day: str) -> bool:
    """Does a live standby request cover this local day (only auto asks: draw mode has no search,
    and fcfs never routes to a draw)?"""
    return policy.allocation == policies.AUTO and lifecycle.covers(standby_ranges(site_id, procedure_id), day)


def local_day(starts_at: str, tz_name: str) -> str:
    return lifecycle.local_date(parse_instant(starts_at), tz_name)


def freed_terms(found: records.Hold | records.Booking, now: float) -> FreedTerms:
    """How the slot of a released hold, cancelled booking or withdrawn offer comes back (to the
    next draw if a standby request covers it, else after a random quarantine; available_from None:
    freed too late, it stays with the counter) and until when its identity may not hold again (R4)."""
    policy = site_catalog.policy(found.site_id, found.procedure_id)
    covered = standby_covers(found.site_id, found.procedure_id, policy,
                                     local_day(found.starts_at, site_catalog.site(found.site_id).timezone))
    terms = lifecycle.freed_slot_terms(now, epoch_of(found.starts_at), policy, covered, _rng)
    available_from, draw_from = terms or (None, None)
    return {
        "available_from": None if available_from is None else round(available_from, 3),
        "draw_from": None if draw_from is None else round(draw_from, 3),
        "cooldown_until": round(lifecycle.cooldown_until(now, policy), 3),
    }


def release_after_coverage(request: records.Request, now: float) -> int:
    """R5: the end of a request's coverage releases nothing at an instant its filer chose. The
    slots of its days that search hid only because it covered them (holdable now, on days no
    other live request covers) get fresh random instants of the release window (R3), as a draw's
    leftovers do; too close to their start, they stay with the counter. Returns how many."""
    policy = site_catalog.policy(request.site_id, request.procedure_id)
    if policy.allocation != policies.AUTO:
        return 0
    tz = site_catalog.site(request.site_id).timezone
    still_covered = standby_ranges(request.site_id, request.procedure_id)  # read afresh: forget_standby came first
    low = utc_key(parse_instant((date.fromisoformat(request.first_day) - timedelta(days=1)).isoformat()))
    high = utc_key(parse_instant((date.fromisoformat(request.last_day) + timedelta(days=2)).isoformat()))
    released = 0
    for slot in storage.holdable_slots_between(request.site_id, request.procedure_id, low, high, now):
        day = local_day(slot.starts_at, tz)
        if request.first_day <= day <= request.last_day and not lifecycle.covers(still_covered, day):
            back = lifecycle.quarantine_end(now, epoch_of(slot.starts_at), policy, _rng)
            # Refused: taken or moved meanwhile, so no longer hidden by this request.
            released += storage.release_draw_leftover_if_unchanged(slot, now, None if back is None else round(back, 3)).ok
    return released
