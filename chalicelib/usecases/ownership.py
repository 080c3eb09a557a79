"""Found or 404, and the bearer's own: the hold, booking or request a bearer token opens."""
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from chalicelib.platform import clock, keys
from chalicelib.platform.tokens import link_token_matches, token_matches
from chalicelib.rules import links, refusals


class BearerItem(Protocol):
    """A hold, booking or request: what its bearer token opens."""
    @property
    def token_hash(self) -> str: ...


T = TypeVar("T")
B = TypeVar("B", bound=BearerItem)
MAX_ID = 64  # no id the service makes is longer: a longer one is not looked up


def found_or_404(load: Callable[[str], T | None], item_id: object, not_found: refusals.Refusal) -> T:
    """What `load(item_id)` finds, else the refusal `not_found` (refusals.*_NOT_FOUND); an id
    that is not a string of at most MAX_ID characters is refused without being looked up."""
    found = load(item_id) if isinstance(item_id, str) and len(item_id) <= MAX_ID else None
    if found is None:
        raise not_found.exception()
    return found


def bearer_owned(load: Callable[[str], B | None], item_id: str, token: str | None, kind: str) -> B:
    """The hold, booking or request that this bearer token opens: 404 if the id is unknown,
    401 if the token is missing or is not this item's (compared in constant time)."""
    unknown, wrong_token = refusals.BEARER[kind]
    found = found_or_404(load, item_id, unknown)
    # The e-mail's link token (tokens.link_token) opens the item as its own token does, while it
    # is the latest link sent and what it opens is not over (rules/links.py). Cancelling through
    # a link where identities are checked will also want a one-time code: `_link_opens` is then
    # also what tells the cancel use case that the bearer came through a link.
    if not token_matches(token, found.token_hash) and not _link_opens(found, kind, item_id, token):
        raise wrong_token.exception()
    return found


def _link_opens(found: Any, kind: str, item_id: str, token: str | None) -> bool:
    if kind == "booking":
        ends = links.booking_link_ends(found.ends_at)
    elif kind == "request":
        ends = links.request_live_until(found.status, found.offer_expires_at, found.last_day)
    else:
        return False  # no e-mail links to a hold
    if ends <= clock.now():
        return False
    return link_token_matches(keys.ring(keys.LINKS), kind, item_id, token, getattr(found, "link_requested_at", None))
