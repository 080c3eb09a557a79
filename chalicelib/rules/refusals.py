"""Which refusal a transition that did not happen gets: pure rules over what storage reports.

Storage says which labelled conditions failed (a refused records.Outcome) and the facts behind them; these
functions choose, in their order of precedence, the refusal's error, code, message and
Retry-After. Retry-After is always the caller's own wait (its cooldown, its rate window, its
partner's quota), never a slot's timing (SPEC R3, R4, R8).
"""
from dataclasses import dataclass
from typing import Optional

from chalicelib.rules.errors import Conflict, Expired, FairslotError, TooManyRequests
from chalicelib.rules.lifecycle import retry_after_seconds

OFFER_MADE, OFFER_ALREADY_MADE, OFFER_NOT_POSSIBLE = "made", "already_made", "not_possible"


@dataclass(frozen=True)
class Refusal:
    error: type[FairslotError]
    code: str
    message: str
    retry_after: Optional[int] = None

    def exception(self):
        return self.error(self.message, code=self.code, retry_after=self.retry_after)


BOOKING_ALREADY_ACTIVE = Refusal(Conflict, "booking_already_active", "You already have a booking for this procedure.")


def _latest(facts, *names):
    return max((facts.get(name) or 0 for name in names), default=0)


def hold_refusal(failed, now, ip_window_end=None, quota_window_end=None):
    """A hold not taken (R1-R4, R8): the identity's own state first (an active hold, then its
    cooldown: the later of a lapsed hold's and a cancellation's), then the network's hourly limit,
    the partner's daily quota, the identity's booking for the procedure, and last the slot
    itself, whose timing is never told."""
    facts = failed.facts
    if "identity" in failed:
        expires = facts.get("hold_expires_at")
        if expires is not None and expires > now:
            return Refusal(Conflict, "hold_already_active", "You already hold a slot; confirm or release it first.")
        return Refusal(TooManyRequests, "cooldown", "You let a hold go or cancelled recently; you can hold a slot again later.",
                       retry_after_seconds(_latest(facts, "hold_lapse_until", "cooldown_until"), now))
    if "ip" in failed:
        return Refusal(TooManyRequests, "rate_limited", "Too many holds from your network; please try again later.",
                       retry_after_seconds(ip_window_end, now))
    if "quota" in failed:
        return Refusal(TooManyRequests, "partner_quota_exceeded", "This partner's daily quota of holds is used up.",
                       retry_after_seconds(quota_window_end, now))
    if "booking" in failed:
        return BOOKING_ALREADY_ACTIVE
    return Refusal(Conflict, "slot_unavailable", "This slot is no longer available.")


def request_refusal(failed, now, ip_window_end=None):
    """A standby request not filed (R6, R2, R4, R8): the cooldown (until the later of its ends;
    none known: now), the network's hourly limit, a booking for the procedure, then the live
    request the identity already has."""
    if "cooldown" in failed:
        until = _latest(failed.facts, "hold_lapse_until", "cooldown_until") if failed.facts else now
        return Refusal(TooManyRequests, "cooldown", "You let a hold go or cancelled recently; you can file a request later.",
                       retry_after_seconds(until, now))
    if "ip" in failed:
        return Refusal(TooManyRequests, "rate_limited", "Too many requests from your network; please try again later.",
                       retry_after_seconds(ip_window_end, now))
    if "booking" in failed:
        return BOOKING_ALREADY_ACTIVE
    return Refusal(Conflict, "request_already_active", "You already have a request for this procedure.")


def hold_not_active(status, expires_at, now):
    """A hold that can no longer be released or confirmed: expired (410) if it ran out while
    active, else no longer active (409)."""
    if status == "active" and expires_at <= now:
        return Refusal(Expired, "hold_expired", "This hold has expired.")
    return Refusal(Conflict, "hold_not_active", "This hold is no longer active.")


def confirm_refusal(failed, hold, now, starts_at_epoch):
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
        return Refusal(Conflict, "slot_started", "This appointment has already started.")
    return hold_not_active(hold.status, hold.expires_at, now)


# A booking cancelled, attended or closed meanwhile cannot be cancelled; check-in and no-show
# apply to a booking still booked (R7); a request offered, booked or withdrawn meanwhile (or
# expired) cannot be withdrawn.
BOOKING_NOT_ACTIVE = Refusal(Conflict, "booking_not_active", "This booking is no longer active.")
BOOKING_NOT_BOOKED = Refusal(Conflict, "booking_not_active", "This booking is no longer booked.")
REQUEST_NOT_LIVE = Refusal(Conflict, "request_not_live", "This request can no longer be withdrawn.")


def close_refusal(failed):
    """Closing a slot: its hold ending meanwhile is worth a retry; anything else about the slot
    (closed, booked or freed since it was read) is not."""
    if set(failed.conditions) <= {"hold", "identity"}:
        return Refusal(Conflict, "state_changed", "The slot changed while closing it; please retry.")
    return Refusal(Conflict, "slot_not_closable", "This slot cannot be closed in its current state.")


def lookup_refusal(failed, now, ip_window_end, identity_window_end):
    """"Find my booking" over its limits (R8): the network's window if it is the one full, else
    the identity's day."""
    window_end = ip_window_end if "ip" in failed else identity_window_end
    return Refusal(TooManyRequests, "rate_limited", "Too many look-ups; please try again later.",
                   retry_after_seconds(window_end, now))


def offer_outcome(failed):
    """A draw's offer: made; already made (its hold, named after the draw and the request,
    exists: an earlier run made it); or not possible (something changed since the draw read)."""
    if failed.ok:
        return OFFER_MADE
    return OFFER_ALREADY_MADE if "hold" in failed else OFFER_NOT_POSSIBLE


# --- configuration and draws: one condition each -----------------------------------------------

STATE_CHANGED = Refusal(Conflict, "state_changed", "Someone else changed this at the same moment; please retry.")
POLICY_CHANGED = Refusal(Conflict, "state_changed", "The policy changed meanwhile; read it again and retry.")
PARTNER_EXISTS = Refusal(Conflict, "partner_exists", "This partner already exists.")
PARTNER_REVOKED = Refusal(Conflict, "partner_revoked", "This partner is already revoked.")
DRAW_EXISTS = Refusal(Conflict, "draw_exists", "This draw already exists.")
DRAW_RUNNING = Refusal(Conflict, "draw_running", "Another run wrote this draw's record.")


def site_exists(site_id):
    return Refusal(Conflict, "site_exists", f"Site '{site_id}' already exists.")
