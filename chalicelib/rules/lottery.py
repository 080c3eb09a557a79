"""The draw (SPEC R6) as pure functions: tiers, tickets from the committed seed, the allocation."""
import hashlib
import hmac
from collections.abc import Iterable
from datetime import date
from typing import NotRequired, TypedDict

from chalicelib.rules.errors import InvalidValue

URGENT_PERMIT_DAYS = 60  # permits expiring within this many days of the draw form the first tier


class Entrant(TypedDict):
    """A waiting request as allocate reads it and the draw's record keeps it (JSON)."""
    request_id: str
    # identity_keys.entrant_tag: the ticket's name (a request id is the applicant's to change by
    # refiling, the identity is not). Absent only in records made before tags existed.
    entrant_tag: NotRequired[str]
    tier: int  # request_tier
    first_day: str  # the wanted range, ISO dates
    last_day: str
    excluded_slots: list[str]  # the slots this identity held or freed: never offered back to it
    partner: NotRequired[bool]  # only for a partner's request, always True


class PoolSlot(TypedDict):
    """A free slot as allocate reads it and the draw's record keeps it (JSON)."""
    slot_id: str
    day: str  # local day, ISO date
    reserved: NotRequired[bool]  # only for a slot of the partner share still reserved, always True


def request_tier(permit_expires_on: date | None, draw_day: date) -> int:
    """1 for a permit expiring within URGENT_PERMIT_DAYS of the draw (or already expired), else 2."""
    if permit_expires_on is not None and (permit_expires_on - draw_day).days <= URGENT_PERMIT_DAYS:
        return 1
    return 2


def declared_urgency_holds(tier: int | None, draw_day: date, permit_read_on: date | None) -> bool:
    """R7: a booking won in the urgent tier is honest iff the permit the agent reads at the counter
    would have put it in that tier on the draw's day. Other bookings claimed nothing to check.
    The read expiry is required for an urgent booking (InvalidValue naming permit_expiry)."""
    if tier != 1:
        return True
    if permit_read_on is None:
        raise InvalidValue("permit_expiry", "This booking was won in the urgent tier: {permit_expiry}, the expiry read on "
                                            "the permit, is required.")
    return request_tier(permit_read_on, draw_day) == 1


def _draw_number(seed_hex: str, label: str) -> int:
    """A 256-bit number from the seed and a label: HMAC-SHA256(seed, label), big-endian.

    Only this and integer arithmetic make the draw, so anyone can replay it from the published
    seed with any HMAC implementation."""
    return int.from_bytes(hmac.new(bytes.fromhex(seed_hex), label.encode(), hashlib.sha256).digest(), "big")


def _ticket(request: Entrant) -> str:
    """What a ticket is drawn for: the entrant's identity tag (the request id in older records)."""
    return request.get("entrant_tag") or request["request_id"]


def draw_order(requests: Iterable[Entrant], seed_hex: str) -> list[Entrant]:
    """The order in which entrants take slots: tier first, then each ticket's draw number
    (HMAC-SHA256(seed, "order|" + identity tag)), then the tag itself (never two equal)."""
    return sorted(requests, key=lambda r: (r["tier"], _draw_number(seed_hex, "order|" + _ticket(r)), _ticket(r)))


def allocate(requests: Iterable[Entrant], slots: Iterable[PoolSlot], seed_hex: str) -> list[tuple[str, str]]:
    """R6: the draw. `requests`: Entrant dicts; `slots`: PoolSlot dicts (a reserved slot goes only
    to a partner's request). Returns [(request_id, slot_id)].

    Requests are taken tier by tier, in a random order within a tier (sorted by their draw
    number); each takes a slot uniformly at random among those still free that fall in its range
    and that it did not free itself. So within a tier every request has the same chance, and a
    ticket depends on the seed and the entrant's identity tag only: withdrawing and refiling
    (a new request id) draws the same ticket. docs/draws.md writes the algorithm out."""
    order = draw_order(requests, seed_hex)
    free = sorted(slots, key=lambda s: s["slot_id"])
    taken: set[str] = set()
    result: list[tuple[str, str]] = []
    for request in order:
        excluded = set(request.get("excluded_slots") or ())
        candidates = [
            s for s in free
            if s["slot_id"] not in taken and s["slot_id"] not in excluded
            and request["first_day"] <= s["day"] <= request["last_day"]
            and (request.get("partner") or not s.get("reserved"))
        ]
        if not candidates:
            continue
        pick = candidates[_draw_number(seed_hex, "slot|" + _ticket(request)) % len(candidates)]
        taken.add(pick["slot_id"])
        result.append((request["request_id"], pick["slot_id"]))
    return result


def seed_commitment(seed_hex: str) -> str:
    """What is published before a draw: SHA-256 of the seed."""
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def entrants_digest(entrants: Iterable[Entrant]) -> str:
    """The fixed set of entrants, published when the draw runs: SHA-256 of one UTF-8 line per
    entrant, in the record's order (docs/draws.md, "The entrants' hash")."""
    digest = hashlib.sha256()
    for e in entrants:
        fields = (e["request_id"], e.get("entrant_tag", ""), str(e["tier"]), e["first_day"], e["last_day"],
                  "1" if e.get("partner") else "0", ",".join(e.get("excluded_slots") or ()))
        digest.update(("|".join(fields) + "\n").encode())
    return digest.hexdigest()


def staff_draw_wait(entries_opened_at: float, draw_interval_seconds: float, now: float) -> float:
    """Seconds before staff may run a procedure's draw without a reason: entries stay open at
    least draw_interval_seconds after the previous draw (or the commitment, whichever is later),
    so nobody picks the moment right after one chosen filing. 0 when it may run."""
    return max(0.0, entries_opened_at + draw_interval_seconds - now)
