"""Which refusal a transition that did not happen gets: pure rules over what storage reports.

Every refusal the API answers is chosen here, by name: the use cases and app.py raise
`refusals.X.exception()` and never build an error themselves (tests/unit/test_refusals.py checks).
Storage says which labelled conditions failed (a refused records.Outcome) and the facts behind them; these
functions choose, in their order of precedence, the refusal's code and Retry-After; its status
and words are the code's in rules/codes.py. Retry-After is always the caller's own wait (its
cooldown, its rate window, its partner's quota, another run's lease), never a slot's timing
(SPEC R3, R4, R8).
"""
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.rules.codes import CODES
from chalicelib.rules.errors import REFUSED_BY_STATUS, FairslotError
from chalicelib.rules.lifecycle import retry_after_seconds
from chalicelib.rules.proofs import MAX_TRIES, Verification
from chalicelib.rules.records import Hold, Outcome

OFFER_MADE, OFFER_ALREADY_MADE, OFFER_NOT_POSSIBLE = "made", "already_made", "not_possible"
HOUR = 3600


@dataclass(frozen=True)
class Refusal:
    code: str
    retry_after: int | None = None

    @property
    def message(self) -> str:
        return CODES[self.code].en

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise KeyError(f"{self.code} is not in rules/codes.py")

    def exception(self) -> FairslotError:
        return REFUSED_BY_STATUS[CODES[self.code].status](code=self.code, retry_after=self.retry_after)


# --- not found, not yours, not allowed: one refusal each ----------------------------------------

NOT_FOUND = Refusal("not_found")
SLOT_NOT_FOUND = Refusal("slot_not_found")
BOOKING_NOT_FOUND = Refusal("booking_not_found")
PARTNER_NOT_FOUND = Refusal("partner_not_found")
SITE_NOT_FOUND = Refusal("site_not_found")
PROCEDURE_NOT_FOUND = Refusal("procedure_not_found")
DRAW_NOT_FOUND = Refusal("draw_not_found")  # unknown, or not recorded yet: its record is not public
# kind: (unknown id, token missing or not this item's), for the items a bearer token opens.
BEARER = {"hold": (Refusal("hold_not_found"), Refusal("bad_hold_token")),
          "booking": (BOOKING_NOT_FOUND, Refusal("bad_booking_token")),
          "request": (Refusal("request_not_found"), Refusal("bad_request_token"))}
PARTNER_KEY_REQUIRED = Refusal("unauthorized")
FORBIDDEN_SITE = Refusal("forbidden_site")
NOT_THIS_PARTNER = Refusal("not_this_partner")
# A procedure's allocation (R6): first come, first served procedures are held, drawn ones requested.
DRAW_ONLY = Refusal("draw_only")
NOT_DRAW = Refusal("not_draw")
SLOTS_AVAILABLE = Refusal("slots_available")  # auto: a request while a slot of its range can be held
APPOINTMENT_NOT_STARTED = Refusal("appointment_not_started")

BOOKING_ALREADY_ACTIVE = Refusal("booking_already_active")
SLOT_UNAVAILABLE = Refusal("slot_unavailable")


def _latest(facts: Mapping[str, Any], *names: str) -> float:
    return max((facts.get(name) or 0 for name in names), default=0)


def hold_refusal(failed: Outcome, now: float, ip_window_end: float | None = None, quota_window_end: float | None = None) -> Refusal:
    """A hold not taken (R1-R4, R8, R10): first the caller's own limit (the network's hour, or the
    partner's day), then the slot itself, whose timing is never told, and only on a slot that
    could have been held the identity's own state (an active hold, then its cooldown: the later
    of a lapsed hold's and a cancellation's, to the hour), then its booking for the procedure.
    A hold on a slot that is not holdable is the same 409 whatever the identity's state, so a
    taken slot is no oracle on a person (DEVELOPERS.md, "No oracle")."""
    facts = failed.facts
    if "ip" in failed:
        return _rate_limited(ip_window_end, now)
    if "quota" in failed:
        assert quota_window_end is not None, "the daily quota fails only for a partner, with its window"
        return Refusal("partner_quota_exceeded", retry_after_seconds(quota_window_end, now))
    if "slot" in failed:
        return SLOT_UNAVAILABLE
    if "identity" in failed:
        expires = facts.get("hold_expires_at")
        if expires is not None and expires > now:
            return Refusal("hold_already_active")
        return cooldown(_latest(facts, "hold_lapse_until", "cooldown_until"), now)
    if "booking" in failed:
        return BOOKING_ALREADY_ACTIVE
    return SLOT_UNAVAILABLE


def cooldown(until: float, now: float) -> Refusal:
    """R4: the identity's own wait, told to the next whole hour (UTC) after its cooldown ends:
    the instant of the cancellation or release that started it is not told to the second."""
    return Refusal("cooldown", retry_after_seconds(-(-until // HOUR) * HOUR, now))



def _rate_limited(ip_window_end: float | None, now: float) -> Refusal:
    """The network's hourly limit (R8): wait until its window ends."""
    assert ip_window_end is not None, "the hourly limit fails only where it applies, with its window"
    return Refusal("rate_limited", retry_after_seconds(ip_window_end, now))


def request_refusal(failed: Outcome, now: float, ip_window_end: float | None = None, quota_window_end: float | None = None) -> Refusal:
    """A standby request not filed (R6, R2, R4, R8): the cooldown (until the later of its ends,
    to the hour; none known: the least wait), the network's hourly limit, the partner's daily
    quota, a booking for the procedure, then the live request the identity already has."""
    if "cooldown" in failed:
        return cooldown(_latest(failed.facts, "hold_lapse_until", "cooldown_until"), now)
    if "ip" in failed:
        return _rate_limited(ip_window_end, now)
    if "quota" in failed:
        assert quota_window_end is not None, "the daily quota fails only for a partner, with its window"
        return Refusal("partner_quota_exceeded", retry_after_seconds(quota_window_end, now))
    if "booking" in failed:
        return BOOKING_ALREADY_ACTIVE
    return Refusal("request_already_active")


def hold_not_active(status: str, expires_at: float, now: float) -> Refusal:
    """A hold that can no longer be released or confirmed: expired (410) if it ran out while
    active, else no longer active (409)."""
    if status == "active" and expires_at <= now:
        return Refusal("hold_expired")
    return Refusal("hold_not_active")


def confirm_refusal(failed: Outcome, hold: Hold, now: float, starts_at_epoch: float) -> Refusal | None:
    """A hold not confirmed. None when the hold was confirmed meanwhile (the same confirmation
    sent twice: it answers with that booking). Else the hold's own state as stored now (facts
    "status", "expires_at" when the hold's condition failed), the identity's booking for the
    procedure, an appointment already started, and last the hold as the caller read it."""
    if "hold" in failed:
        status = failed.facts.get("status", hold.status)
        if status == "confirmed":
            return None
        return hold_not_active(status, failed.facts.get("expires_at", hold.expires_at), now)
    if "active_booking" in failed:
        return BOOKING_ALREADY_ACTIVE
    if starts_at_epoch <= now:
        return Refusal("slot_started")
    return hold_not_active(hold.status, hold.expires_at, now)


# A booking cancelled, attended or closed meanwhile cannot be cancelled; check-in and no-show
# apply to a booking still booked (R7); a request offered, booked or withdrawn meanwhile (or
# expired) cannot be withdrawn.
BOOKING_NOT_ACTIVE = Refusal("booking_not_active")
REQUEST_NOT_LIVE = Refusal("request_not_live")


def close_refusal(failed: Outcome) -> Refusal:
    """Closing a slot: its hold ending meanwhile is worth a retry; anything else about the slot
    (closed, booked or freed since it was read) is not."""
    if set(failed.conditions) <= {"hold", "identity"}:
        return Refusal("state_changed")
    return Refusal("slot_not_closable")


def lookup_refusal(now: float, ip_window_end: float) -> Refusal:
    """"Find my booking" over its limit (R8): the network's window. There is no limit per
    identity, which a stranger could use up (DEVELOPERS.md, "No oracle")."""
    return _rate_limited(ip_window_end, now)


def offer_outcome(failed: Outcome) -> str:
    """A draw's offer: made; already made (its hold, named after the draw and the request,
    exists: an earlier run made it); or not possible (something changed since the draw read)."""
    if failed.ok:
        return OFFER_MADE
    return OFFER_ALREADY_MADE if "hold" in failed else OFFER_NOT_POSSIBLE


# --- configuration and draws: one condition each -----------------------------------------------

STATE_CHANGED = Refusal("state_changed")  # read, then changed by someone else before the write
SITE_EXISTS = Refusal("site_exists")
PARTNER_EXISTS = Refusal("partner_exists")
PARTNER_REVOKED = Refusal("partner_revoked")
DRAW_EXISTS = Refusal("draw_exists")
DRAW_RUNNING = Refusal("draw_running")  # this run lost its lease: another run took the draw over


def relayed(code: str, retry_after: int | None) -> Refusal:
    """A refusal another function answered (a staff-run draw run in the draw function)."""
    return Refusal(code, retry_after)


def draw_too_soon(entries_close_at: float, now: float) -> Refusal:
    """A staff-run draw before entries have been open draw_interval_seconds, without a reason."""
    return Refusal("draw_too_soon", retry_after_seconds(entries_close_at, now))


def draw_running(lease_until: float | None, now: float) -> Refusal:
    """A run that could not take its draw: another run holds the lease, wait until it ends (one
    second when it was just claimed, lease unknown)."""
    return Refusal("draw_running", retry_after_seconds(lease_until or now, now))


# --- proven identities (R10) ---------------------------------------------------------------------

IDENTITY_UNVERIFIED = Refusal("identity_unverified")  # no identity token, or not one for this identity and procedure
REGISTRY_MISMATCH = Refusal("registry_mismatch")  # a partner's beneficiary the registry does not know
VERIFICATION_NOT_NEEDED = Refusal("verification_not_needed")  # a procedure whose identity_check is none
CODE_INVALID = Refusal("code_invalid")
VERIFICATION_USED = Refusal("verification_expired")  # its code already bought a token
REGISTRY_RETRY_SECONDS = 30


def registry_unavailable() -> Refusal:
    """The registry could not answer: nothing was decided or written; try again shortly."""
    return Refusal("registry_unavailable", REGISTRY_RETRY_SECONDS)


def unproven(failed: Outcome) -> Refusal | None:
    """A hold, request or look-up whose identity token did not prove its identity: that answer
    first, and nothing about the identity's state (R10)."""
    return IDENTITY_UNVERIFIED if "proof" in failed else None


def code_refusal(verification: Verification | None, now: float) -> Refusal | None:
    """Why a code cannot be tried on this verification now, or None: unknown, expired or already
    used (410), or out of its tries (429 until it expires: then ask for a new code)."""
    if verification is None:
        return Refusal("verification_not_found")
    if verification.used or verification.expires_at <= now:
        return Refusal("verification_expired")
    if verification.tries >= MAX_TRIES:
        return Refusal("verification_locked", retry_after_seconds(verification.expires_at, now))
    return None


def verification_limited(failed: Outcome, now: float, window_end: float) -> Refusal:
    """Codes asked for too often, from this network or for this identity (R8): wait for the hour."""
    return Refusal("rate_limited", retry_after_seconds(window_end, now))
