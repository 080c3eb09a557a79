"""Opaque ids, bearer tokens (>=128 random bits, stored hashed, compared in constant time)."""
import base64
import hashlib
import hmac
import re
import secrets

from chalicelib.platform.keys import Ring

_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U: read aloud at a counter


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: object, stored_hash: str | None) -> bool:
    if not isinstance(token, str) or not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)


def derived_token(secret: str, purpose: str, source_token: str) -> str:
    """A token that the same source always yields again and nobody without the source and the
    secret can compute: base64url of an HMAC-SHA256, 43 characters."""
    digest = hmac.new(secret.encode(), f"{purpose}|{source_token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


_MAC_LENGTH = 43  # base64url of 256 bits, unpadded
_VERSIONED = re.compile(rf"v([0-9]{{1,6}})_([A-Za-z0-9_-]{{{_MAC_LENGTH}}})")


def with_version(version: int, mac: str) -> str:
    """A derived token that names the key version it was made under: `v<version>_<mac>`; version 1
    is the bare MAC, as every token was before keys had versions (so those stay valid)."""
    return mac if version == 1 else f"v{version}_{mac}"


def version_of(token: str) -> tuple[int, str]:
    """(key version, MAC) of a token with_version made; a bare 43-character MAC is version 1 (its
    length tells it from a versioned one, whatever characters it starts with)."""
    if len(token) == _MAC_LENGTH:
        return 1, token
    found = _VERSIONED.fullmatch(token)
    return (int(found[1]), found[2]) if found else (0, "")


def booking_token(hold_token: str) -> str:
    """The booking's token, from the hold token it was confirmed with: confirming the same hold
    again returns the same token. No server key: whoever holds the hold token can get the booking
    token by confirming again anyway, so a key would protect nothing and would only have to stay
    the same for as long as a confirmation may be retried."""
    digest = hmac.new(hold_token.encode(), b"fairslot/booking-token", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _link_mac(secret: str, kind: str, item_id: str, issued: float | None) -> str:
    if issued:
        return derived_token(secret, f"link|{kind}|{round(float(issued) * 1000)}", item_id)
    return derived_token(secret, f"link|{kind}", item_id)


def link_token(ring: Ring, kind: str, item_id: str, issued: float | None = None) -> str:
    """The token an e-mail's link carries for one booking or request: HMAC(links key, "link|kind|id"),
    256 bits, under the links key's signing version (named in the token). The stream and the draw
    can compute it from the item alone (they never see the bearer token), nobody without the key
    can, and nothing needs storing. `issued` is when "find my booking" last asked for the link
    (the booking's `link_requested_at`): each request yields a new token, and the one before
    stops matching."""
    return with_version(ring.version, _link_mac(ring.secret, kind, item_id, issued))


def link_token_matches(ring: Ring, kind: str, item_id: str, token: object, issued: float | None = None) -> bool:
    """True for the item's link token under any version the ring still lists (compared in
    constant time); a token of a retired version matches nothing."""
    if not isinstance(token, str) or not token:
        return False
    version, mac = version_of(token)
    secret = ring.secret_of(version)
    if secret is None:
        return False
    return hmac.compare_digest(_link_mac(secret, kind, item_id, issued).encode(), mac.encode())


def new_reference(prefix: str = "FS") -> str:
    body = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"{prefix}-{body[:4]}-{body[4:]}"
