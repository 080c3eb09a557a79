"""Named conditions and the transaction items every aggregate repeats: a slot holdable, drawable,
not started or not reserved; an identity that may hold or has no active booking; a counter under
its cap; freeing a slot, taking and ending an identity's hold."""
from collections.abc import Iterable
from datetime import UTC, datetime

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.platform.clock import utc_key
from chalicelib.rules import identity_keys, lifecycle, records
from chalicelib.rules.lifecycle import IpLimit
from chalicelib.rules.oversight import PartnerQuota
from chalicelib.rules.proofs import ProofCheck
from chalicelib.storage.models import Counter, Hold, IdentityProof, IdentityState, Slot
from chalicelib.storage.transaction import Transaction

HOLD_SCOPE = "hold"


def booking_scope(procedure_id: str) -> str:
    """The identity's one active booking for a procedure (R2)."""
    return f"booking#{procedure_id}"


def request_scope(procedure_id: str) -> str:
    """The identity's one live request for a procedure (R6)."""
    return f"request#{procedure_id}"


def search_partition(site_id: str, procedure_id: str) -> str:
    """The search index's (and the draws') partition of one site and procedure."""
    return f"{site_id}#{procedure_id}"


# --- slots ------------------------------------------------------------------------------------

def slot_not_started(now: float) -> Condition:
    return Slot.starts_at > utc_key(datetime.fromtimestamp(now, UTC))


def slot_not_reserved(now: float) -> Condition:
    """The partner share (SPEC R11): a reserved slot is public only once reserved_until passed."""
    return Slot.reserved_until.does_not_exist() | (Slot.reserved_until <= now)


def slot_free_for_a_draw(now: float) -> Condition:
    """A slot a draw may give: free by the uniform rule, or marked for the draw (draw_from)."""
    return (Slot.available_from <= now) | (Slot.draw_from <= now)


def slot_holdable(now: float) -> Condition:
    """The uniform rule as a condition (lifecycle.is_holdable), on a slot offered for holding; never
    once its appointment has started (R3)."""
    return (Slot.state.is_in(*lifecycle.HOLDABLE_STATES) & (Slot.available_from <= now) & Slot.search_pk.exists()
            & slot_not_started(now))


def slot_drawable(now: float) -> Condition:
    """What a draw's offer needs: a free slot (or one marked for the draw) that has not started."""
    return (Slot.state.is_in(*lifecycle.HOLDABLE_STATES) & slot_free_for_a_draw(now) & Slot.search_pk.exists()
            & slot_not_started(now))


def slot_held_by(hold_id: str, now: float) -> Condition:
    """The slot is still held by this hold, unexpired."""
    return (Slot.state == lifecycle.HELD) & (Slot.hold_id == hold_id) & (Slot.hold_expires_at > now)


def _freed_slot_actions(available_from: float | None, draw_from: float | None, search_pk: str, freed_by: str) -> list[Action]:
    # R11: a freed slot is no partner's any more (its reservation went with its first hold).
    actions = [Slot.hold_id.remove(), Slot.hold_expires_at.remove(), Slot.hold_identity.remove(), Slot.freed_by.set(freed_by),
               Slot.freed_count.add(1), Slot.reserved_until.remove(), Slot.hold_partner.remove()]
    if available_from is None:
        return [Slot.state.set(lifecycle.FREED_LATE), Slot.search_pk.remove(), *actions]
    if draw_from is not None:
        actions.append(Slot.draw_from.set(draw_from))
    return [Slot.state.set(lifecycle.OPEN), Slot.available_from.set(available_from), Slot.search_pk.set(search_pk), *actions]


def free_the_slot(tx: Transaction, held: records.Hold | records.Booking, available_from: float | None, draw_from: float | None, condition: Condition,
                  extra_actions: Iterable[Action] = ()) -> None:
    """A freed slot (R3, lifecycle.freed_slot_terms): open again from `available_from`, the draw's
    from `draw_from` if set; or, freed too late (None), out of search and left to the counter.
    `held` is the hold or booking that had it: the slot keeps identity_keys.slot_tag of who freed it,
    never the identity key. Only while `condition` (who still has it) holds."""
    tx.update(
        "slot",
        Slot(held.slot_id),
        actions=[*_freed_slot_actions(available_from, draw_from, search_partition(held.site_id, held.procedure_id),
                                      identity_keys.slot_tag(held.identity_key, held.slot_id)), *extra_actions],
        condition=condition,
    )


# --- identities -------------------------------------------------------------------------------

def identity_may_hold(now: float) -> Condition:
    """No active hold (unless it lapsed into its cooldown's start) and no cooldown running (R4)."""
    return ((IdentityState.hold_id.does_not_exist() | (IdentityState.hold_lapse_until <= now))
            & (IdentityState.cooldown_until.does_not_exist() | (IdentityState.cooldown_until <= now)))


def identity_not_cooling_down(now: float) -> Condition:
    """No cooldown running (R4): neither one started by a release or cancellation, nor a hold
    lapsed into its own (an active hold is no cooldown: its holder may still file a request)."""
    return ((IdentityState.hold_id.does_not_exist() | (IdentityState.hold_expires_at > now) | (IdentityState.hold_lapse_until <= now))
            & (IdentityState.cooldown_until.does_not_exist() | (IdentityState.cooldown_until <= now)))


def no_active_booking(now: float) -> Condition:
    """The identity has no active booking for the procedure of this scope (R2)."""
    return IdentityState.booking_id.does_not_exist() | (IdentityState.booking_ends_at <= now)


def check_no_active_booking(tx: Transaction, identity_key: str, procedure_id: str, now: float) -> None:
    tx.check("booking", IdentityState, identity_key, booking_scope(procedure_id), condition=no_active_booking(now))


def take_hold(tx: Transaction, hold: records.Hold, lapse_until: float, now: float, return_old: bool = False) -> None:
    """The identity's one hold is this one, if it may hold (identity_may_hold); with return_old
    the item as it was comes back on refusal, for the refusal's facts."""
    tx.update(
        "identity",
        IdentityState(hold.identity_key, HOLD_SCOPE),
        actions=[IdentityState.hold_id.set(hold.hold_id), IdentityState.hold_expires_at.set(hold.expires_at),
                 IdentityState.hold_lapse_until.set(lapse_until), IdentityState.purge_at.set(hold.purge_at)],
        condition=identity_may_hold(now),
        return_old=return_old,
    )


def end_hold(tx: Transaction, hold: records.Hold | Hold, cooldown_until: float | None = None) -> None:
    """The identity's hold ends (released, confirmed, closed); its cooldown starts if given."""
    actions: list = [IdentityState.hold_id.remove(), IdentityState.hold_expires_at.remove(), IdentityState.hold_lapse_until.remove()]
    if cooldown_until is not None:
        actions.append(IdentityState.cooldown_until.set(cooldown_until))
    tx.update("identity", IdentityState(hold.identity_key, HOLD_SCOPE), actions=actions,
              condition=IdentityState.hold_id == hold.hold_id)


# --- counters (R8) ----------------------------------------------------------------------------

def count_under_cap(tx: Transaction, label: str, key: str, window_end: int, cap: int) -> None:
    """R8: one more action on a window's counter, only while the counter is under its cap."""
    tx.update(
        label,
        Counter(key),
        actions=[Counter.n.add(1), Counter.expires_ttl.set(window_end)],
        condition=Counter.n.does_not_exist() | (Counter.n < cap),
    )


def ip_counter_key(kind: str, ip: str, window: tuple[int, int]) -> str:
    """The counter of one kind of action from one client IP in one hourly window."""
    return f"{kind}#{ip}#{window[0]}"


def count_for_ip(tx: Transaction, kind: str, ip_limit: IpLimit) -> None:
    """One more action of this kind from this client IP in its hourly window, under the cap."""
    count_under_cap(tx, "ip", ip_counter_key(kind, ip_limit["ip"], ip_limit["window"]), ip_limit["window"][1], ip_limit["max"])


def _quota_key(partner_id: str, window_start: int) -> str:
    return f"partner-holds#{partner_id}#{window_start}"


def count_partner_quota(tx: Transaction, quota: PartnerQuota) -> None:
    """R8, R11: one more hold or request on a partner's daily quota (one counter for both)."""
    count_under_cap(tx, "quota", _quota_key(quota["partner_id"], quota["window"][0]), quota["window"][1], quota["max"])


def charge_partner_quota(tx: Transaction, partner_id: str, window: tuple[int, int]) -> None:
    """R11: a partner's cancellation uses one more of its day's quota, whatever the count (a
    cancellation is never refused for it): freeing a slot to take it again costs the partner."""
    tx.update("quota", Counter(_quota_key(partner_id, window[0])), actions=[Counter.n.add(1), Counter.expires_ttl.set(window[1])],
              condition=Counter.n.does_not_exist() | Counter.n.exists())  # created or incremented, whichever comes first


# --- proven identities (R10) ------------------------------------------------------------------

def proof_key(token_hash: str) -> str:
    """Where an identity token's proof is kept (the identities table), by the token's hash."""
    return f"proof#{token_hash}"


def check_proof(tx: Transaction, proof: ProofCheck | None, now: float) -> None:
    """In a hold's, request's or look-up's transaction: the identity token proves this lock key
    for this procedure and has not expired ("proof"). None: the procedure proves nothing."""
    if proof is None:
        return
    tx.check("proof", IdentityProof, proof_key(proof.token_hash), "proof",
             condition=(IdentityProof.lock_key == proof.lock_key) & (IdentityProof.procedure_id == proof.procedure_id)
             & (IdentityProof.expires_at > now))
