"""Identities: what an identity key holds (its hold, bookings, requests) and its look-up limits."""
from collections.abc import Sequence

from chalicelib.rules import records
from chalicelib.rules.lifecycle import IpLimit
from chalicelib.rules.records import Outcome
from chalicelib.storage import values
from chalicelib.storage.calls import batch_get, guard_public_functions, query_all
from chalicelib.storage.conditions import count_for_ip
from chalicelib.storage.models import Booking, IdentityState
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


guard_public_functions(globals())
