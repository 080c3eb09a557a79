"""The slot lifecycle (SPEC R3, R4, R5, R8 windows, routing of freed slots) as pure functions: states, quarantine, cooldown, hold terms, publication."""
import hashlib
import hmac
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from typing import TypedDict
from zoneinfo import ZoneInfo

from chalicelib.rules.policies import AUTO, DRAW, Policy

# Stored states. "scheduled" and "quarantined" are not stored: they are an open (or formerly
# held) slot whose available_from is still in the future, which is what makes one uniform rule
# cover publication, quarantine and hold expiry alike.
OPEN, HELD, BOOKED, ATTENDED, NO_SHOW, CLOSED = "open", "held", "booked", "attended", "no_show", "closed"


REFUSED = "refused"  # check-in found another identity (R7): the appointment is refused


# Freed too close to its start to be re-offered online (R3): it stays with the counter.
FREED_LATE = "freed_late"


# The uniform rule: a slot can be held iff its state is one of these and available_from <= now. A
# held slot counts: taking the hold sets available_from to its expiry plus a quarantine, so a
# lapsed hold frees the slot only after that hidden quarantine. Storage holds it as the write's
# condition (storage/conditions.py, slot_holdable).
HOLDABLE_STATES = (OPEN, HELD)


def release_window(now: float, starts_at: float, policy: Policy) -> tuple[float, float] | None:
    """R3: the (earliest, latest) instants a slot freed at `now` may come back to search, or None
    when it is too close to its start to be re-offered online (it stays with the counter).

    Normally [now + quarantine_min, now + quarantine_max]. Near the appointment the window moves
    earlier so that the slot comes back with at least half the time left, but it keeps a length
    of at least release_window_min_seconds: the instant is never one anybody can compute."""
    low: float = policy.quarantine_min_seconds
    high: float = policy.quarantine_max_seconds
    latest = (starts_at - now) / 2
    if high > latest:
        length = max(high - low, policy.release_window_min_seconds)
        high = latest
        low = max(0.0, high - length)
        if high - low < policy.release_window_min_seconds:
            return None
    return now + low, now + high


def quarantine_end(now: float, starts_at: float, policy: Policy, rng: Random) -> float | None:
    """R3: the hidden instant a freed slot becomes holdable again, uniform over release_window;
    None when it was freed too late to come back online."""
    window = release_window(now, starts_at, policy)
    return None if window is None else rng.uniform(*window)


def hold_terms(now: float, starts_at: float, policy: Policy, rng: Random, ttl_seconds: float | None = None) -> tuple[float, float]:
    """A new hold's expiry, and the available_from the slot takes with it: the expiry followed
    by a quarantine, so letting a hold lapse frees the slot no sooner than releasing it. A hold
    lapsing too close to the start leaves the slot with the counter: due back only at its start,
    when nothing can take it any more."""
    expires_at = now + (ttl_seconds or policy.hold_ttl_seconds)
    back = quarantine_end(expires_at, starts_at, policy, rng)
    return expires_at, (starts_at if back is None else back)


def cooldown_until(now: float, policy: Policy) -> float:
    """R4: when an identity that let a hold go or cancelled may hold again."""
    return now + policy.cooldown_seconds


def retry_after_seconds(until: float, now: float) -> int:
    return max(1, int(-(-(until - now) // 1)))


def publication_instants(now: float, count: int, policy: Policy, mode: str, rng: Random) -> list[float]:
    """R5: when each new slot becomes visible: now, or uniform over the publication window."""
    if mode == "now" or policy.publish_window_seconds == 0:
        return [now] * count
    return [now + rng.uniform(0, policy.publish_window_seconds) for _ in range(count)]


def schedule_slot_times(tz_name: str, first_day: date, last_day: date, weekdays: Collection[int], opens: time, closes: time,
                        slot_minutes: int, counters: int) -> list[tuple[datetime, datetime, int]]:
    """Every (starts_at, ends_at, counter) in UTC that a staff opening schedule describes.

    weekdays use Monday=0 .. Sunday=6; times are local to the site's timezone."""
    tz = ZoneInfo(tz_name)
    step = timedelta(minutes=slot_minutes)
    out = []
    day = first_day
    while day <= last_day:
        if day.weekday() in weekdays:
            start = datetime.combine(day, opens, tz)
            end_of_day = datetime.combine(day, closes, tz)
            while start + step <= end_of_day:
                for counter in range(counters):
                    out.append((start.astimezone(UTC), (start + step).astimezone(UTC), counter))
                start = start + step
        day += timedelta(days=1)
    return out


def slot_id(secret: str, site_id: str, procedure_id: str, starts_at_key: str, counter: int) -> str:
    """A slot's id: always the same for one counter's one opening, so publishing a schedule again
    (a retry after a failure, or more counters) never doubles a slot; keyed with a server secret,
    so nobody can compute an id before the slot is published and hold it without searching."""
    message = f"slot|{site_id}|{procedure_id}|{starts_at_key}|{counter}".encode()
    return "slot_" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:24]


def local_date(starts_at_utc: datetime, tz_name: str) -> str:
    return starts_at_utc.astimezone(ZoneInfo(tz_name)).date().isoformat()


def hour_window(now: float) -> tuple[int, int]:
    """The fixed one-hour window a per-IP hold counter belongs to: (window id, window end)."""
    start = int(now // 3600) * 3600
    return start, start + 3600


class IpLimit(TypedDict):
    """R8: what one client IP may do in one hour_window, as storage counts it."""
    ip: str
    window: tuple[int, int]  # hour_window(now)
    max: int


TO_DRAW, TO_SEARCH, TO_COUNTER = "draw", "search", "counter"


def covers(ranges: Iterable[tuple[str, str]], day: str) -> bool:
    """Does any live request's range [first_day, last_day] (ISO dates) cover this local day?"""
    return any(first <= day <= last for first, last in ranges)


def route_freed_slot(policy: Policy, covered: bool, now: float, starts_at: float) -> str:
    """Where a slot that becomes free goes: the next draw where people wait for it (draw mode, or
    auto with a live request covering its day), else search at a random instant; in either case
    the counter when too little time is left for a draw and an offer, or for a release window."""
    if policy.allocation == DRAW or (policy.allocation == AUTO and covered):
        if starts_at - now < policy.draw_interval_seconds + policy.offer_ttl_seconds:
            return TO_COUNTER
        return TO_DRAW
    return TO_SEARCH if release_window(now, starts_at, policy) is not None else TO_COUNTER


def freed_slot_terms(now: float, starts_at: float, policy: Policy, covered: bool,
                     rng: Random) -> tuple[float | None, float | None] | None:
    """How a slot freed at `now` comes back: (available_from, draw_from), or None when freed too
    late (it stays with the counter).

    - to search: after a random quarantine, (instant, None);
    - to the draw in draw mode: (now, None), there is no search;
    - to the draw in auto: (starts_at, now): search never shows it by itself; the draw may take it
      from now, and whatever a draw does not give away it sends to search at a random instant. So
      withdrawing the covering request does not bring the slot back at a moment anybody chose."""
    route = route_freed_slot(policy, covered, now, starts_at)
    if route == TO_DRAW:
        return (now, None) if policy.allocation == DRAW else (starts_at, now)
    if route == TO_SEARCH:
        return quarantine_end(now, starts_at, policy, rng), None
    return None


def standby_allowed(policy: Policy) -> bool:
    """Requests are filed in draw mode, and in auto as standby requests (when search finds nothing)."""
    return policy.allocation in (AUTO, DRAW)


def searchable(policy: Policy) -> bool:
    return policy.allocation != DRAW


def offerable(starts_at: float, now: float, policy: Policy) -> bool:
    """A draw offers only a slot whose appointment leaves time to confirm the offer."""
    return starts_at - now >= policy.offer_ttl_seconds
