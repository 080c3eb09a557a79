"""Identities: what an identity key holds (its hold, bookings, requests) and its look-up limits."""
from chalicelib.rules import records
from chalicelib.rules.lifecycle import IpLimit
from chalicelib.rules.oversight import IdentityLimit
from chalicelib.rules.records import Outcome
from chalicelib.storage import values
from chalicelib.storage.calls import get, guard_public_functions, query_all
from chalicelib.storage.conditions import count_for_ip, count_under_cap
from chalicelib.storage.models import Booking, IdentityState
from chalicelib.storage.transaction import Transaction


def count_lookup(ip_limit: IpLimit, identity_limit: IdentityLimit) -> Outcome:
    """One more lookup from this client IP (hourly) and for this identity (daily), both under
    their caps, in one transaction. Returns what failed ("ip", "identity")."""
    tx = Transaction()
    count_for_ip(tx, "lookup-ip", ip_limit)
    start, end = identity_limit["window"]
    count_under_cap(tx, "identity", f"lookup-identity#{identity_limit['identity']}#{start}", end, identity_limit["max"])
    return Outcome.of(tx.commit())


def live_bookings_of(identity: str, now: float) -> list[records.Booking]:
    """The identity's live bookings (one per procedure: its "booking#" scopes not yet over)."""
    scopes = query_all(IdentityState, identity, IdentityState.scope.startswith("booking#"),
                       filter_condition=IdentityState.booking_ends_at > now)
    found = (get(Booking, s.booking_id) for s in scopes if s.booking_id)
    return [values.booking(b) for b in found if b is not None and b.status == "booked"]


guard_public_functions(globals())
