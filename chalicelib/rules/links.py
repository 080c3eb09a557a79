"""Until when an e-mail's link opens what it names (SPEC §6, every token expires): never past what it is for."""
from datetime import UTC, datetime


def booking_link_ends(ends_at: str) -> float:
    """A booking's link (view, print, cancel) ends with its appointment."""
    return datetime.fromisoformat(ends_at.replace("Z", "+00:00")).timestamp()


def request_live_until(status: str, offer_expires_at: float | None, last_day: str) -> float:
    """Until when a standby request is live, and its link (and the offer e-mail's, the same link)
    opens it: an offer, until the offer expires; a waiting request, until the day after its last
    day (no draw can give it anything later); withdrawn or booked, no longer (a booking has its
    own link)."""
    if status == "offered":
        return offer_expires_at or 0.0
    if status == "waiting":
        return datetime.fromisoformat(last_day).replace(tzinfo=UTC).timestamp() + 86400
    return 0.0
