"""Identities: what an identity key holds (its hold, bookings, requests) and its look-up limits."""
from collections.abc import Sequence

from chalicelib.rules import records
from chalicelib.rules.lifecycle import IpLimit
from chalicelib.rules.records import Outcome
from chalicelib.storage import values
from chalicelib.storage.audit import add_entries
from chalicelib.storage.calls import batch_get, guard_public_functions, query_all
from chalicelib.storage.conditions import HOLD_SCOPE, booking_scope, count_for_ip, request_scope
from chalicelib.storage.models import Booking, IdentityState
from chalicelib.storage.signals import add_signals
from chalicelib.storage.transaction import Transaction

# A key no booking has (booking ids are "bkg_..."): "find my booking" reads and checks it with
# the bookings it found, so a look-up that finds none makes the same calls as one that does.
_NO_BOOKING = "none"


def count_lookup(ip_limit: IpLimit) -> Outcome:
    """One more lookup from this client IP in its hour, under its cap. Returns what failed ("ip")."""
    tx = Transaction()
    count_for_ip(tx, "lookup-ip", ip_limit)
    return Outcome.of(tx.commit())


def live_bookings_of(identity: str, now: float) -> list[records.Booking]:
    """The identity's live bookings (one per procedure: its "booking#" scopes not yet over): one
    Query, then one BatchGetItem whether the Query found bookings or not."""
    scopes = query_all(IdentityState, identity, IdentityState.scope.startswith("booking#"),
                       filter_condition=IdentityState.booking_ends_at > now)
    found = batch_get(Booking, [_NO_BOOKING, *(s.booking_id for s in scopes if s.booking_id)])
    return [values.booking(b) for b in found if b.status == "booked"]


def request_links_if_unchanged(bookings: Sequence[records.Booking], now: float) -> Outcome:
    """Ask the bookings stream to send each booking's link again (notify.LINK), while it is booked
    and its link was not asked for since it was read: one transaction, the same call whether it
    names bookings or none (it always checks that the key no booking has is still free)."""
    tx = Transaction()
    tx.check("none", Booking, _NO_BOOKING, condition=Booking.booking_id.does_not_exist())
    for n, booking in enumerate(bookings):
        asked = booking.link_requested_at
        unchanged = Booking.link_requested_at.does_not_exist() if asked is None else Booking.link_requested_at == asked
        tx.update(f"booking{n}", Booking(booking.booking_id), [Booking.link_requested_at.set(now)],
                  (Booking.status == "booked") & unchanged)
    return Outcome.of(tx.commit())


def locks_of(identity: str, procedure_id: str, now: float) -> records.IdentityLocks:
    """The identity's hold, cooldown, and live booking and request for the procedure: one Query
    of its scopes."""
    scopes = {s.scope: s for s in query_all(IdentityState, identity)}
    hold = scopes.get(HOLD_SCOPE)
    booking, request = scopes.get(booking_scope(procedure_id)), scopes.get(request_scope(procedure_id))
    hold_id, hold_live, cooldown = _hold_state(hold, now)
    return records.IdentityLocks(
        hold_id=hold_id, hold_live=hold_live, cooldown_until=cooldown,
        booking_id=booking.booking_id if booking and (booking.booking_ends_at or 0) > now else None,
        request_id=request.request_id if request and (request.request_ends_at or 0) > now else None,
        has_hold_scope=hold is not None)


def _hold_state(hold: IdentityState | None, now: float) -> tuple[str | None, bool, float]:
    """The hold scope's hold id, whether that hold is live, and the end of the cooldown (a hold
    let go starts one at its lapse; a release or cancellation writes one)."""
    if hold is None:
        return None, False, 0
    live = bool(hold.hold_id) and (hold.hold_expires_at or 0) > now
    lapsed = (hold.hold_lapse_until or 0) if hold.hold_id and not live else 0
    return hold.hold_id, live, max(hold.cooldown_until or 0, lapsed)


def lift_cooldown_if_no_live_hold(identity: str, now: float, lift: bool, audit: Sequence[records.NewAuditEntry] = (),
                                  signals: Sequence[records.NewSignal] = ()) -> Outcome:
    """Staff free a person (R4, R10): with `lift`, its cooldown and any lapsed hold are forgotten,
    only while it has no live hold (a hold taken since is theirs: refused, "identity"); with the
    action's audit entries and signal, in one transaction."""
    tx = Transaction()
    if lift:
        tx.update("identity", IdentityState(identity, HOLD_SCOPE),
                  actions=[IdentityState.cooldown_until.remove(), IdentityState.hold_id.remove(),
                           IdentityState.hold_expires_at.remove(), IdentityState.hold_lapse_until.remove()],
                  condition=IdentityState.identity_key.exists()
                  & (IdentityState.hold_id.does_not_exist() | (IdentityState.hold_expires_at <= now)))
    add_entries(tx, audit)
    add_signals(tx, signals)
    return Outcome.of(tx.commit())


guard_public_functions(globals())
