"""Found or 404, and the bearer's own: the hold, booking or request a bearer token opens."""
from chalicelib.platform.keys import identity_secret
from chalicelib.platform.tokens import link_token_matches, token_matches
from chalicelib.rules.errors import NotFound, Unauthorized

# kind: (code if unknown, code if the token is wrong), spelled out so that the error catalogue's
# test (tests/unit/test_contract.py) finds them.
_BEARER_CODES = {"hold": ("hold_not_found", "bad_hold_token"), "booking": ("booking_not_found", "bad_booking_token"),
                 "request": ("request_not_found", "bad_request_token")}
def bearer_owned(load, item_id, token, kind):
    """The hold, booking or request that this bearer token opens: 404 if the id is unknown,
    401 if the token is missing or is not this item's (compared in constant time)."""
    unknown, wrong_token = _BEARER_CODES[kind]
    found = load(item_id) if isinstance(item_id, str) and len(item_id) <= 64 else None
    if found is None:
        raise NotFound(f"Unknown {kind}.", code=unknown)
    # The e-mail's link token (tokens.link_token) opens the item as its own token does.
    if not token_matches(token, found.token_hash) and not link_token_matches(identity_secret(), kind, item_id, token):
        raise Unauthorized(f"The {kind} token is missing or does not match.", code=wrong_token)
    return found
