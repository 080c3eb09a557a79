"""Opaque ids, bearer tokens (>=128 random bits, stored hashed, compared in constant time)."""
import base64
import hashlib
import hmac
import secrets

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
    """A token that the same source token always yields again (so retrying a confirm returns
    the same booking token) and nobody without the source token and the secret can compute."""
    digest = hmac.new(secret.encode(), f"{purpose}|{source_token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_token(secret: str, kind: str, item_id: str, issued: float | None = None) -> str:
    """The token an e-mail's link carries for one booking or request: HMAC(secret, "link|kind|id"),
    256 bits. The stream and the draw can compute it from the item alone (they never see the
    bearer token), nobody without the secret can, and nothing needs storing. `issued` is when
    "find my booking" last asked for the link (the booking's `link_requested_at`): each request
    yields a new token, and the one before stops matching."""
    if issued:
        return derived_token(secret, f"link|{kind}|{round(float(issued) * 1000)}", item_id)
    return derived_token(secret, f"link|{kind}", item_id)


def link_token_matches(secret: str, kind: str, item_id: str, token: object, issued: float | None = None) -> bool:
    if not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(link_token(secret, kind, item_id, issued).encode(), token.encode())


def new_reference(prefix: str = "FS") -> str:
    body = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"{prefix}-{body[:4]}-{body[4:]}"
