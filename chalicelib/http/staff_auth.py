"""Staff authentication: verify the bearer JWT and its Cognito groups.

Locally (and in tests) tokens are HS256 signed with STAFF_JWT_SECRET. In AWS they are the staff
user pool's RS256 ID tokens, verified against its JWKS (STAFF_JWKS_URL): issuer = the pool
(STAFF_JWT_ISSUER), `aud` = the app client id (STAFF_JWT_AUDIENCE), `token_use` = "id". Access
tokens are refused: they name the client in `client_id` and carry no `aud` (docs/deploy.md §3).
The keys are fetched once per warm process; PyJWT and `cryptography` are imported on the first
staff request, never at cold start.
"""
import time
from collections.abc import Iterable
from typing import Any

from chalicelib.platform import config

AGENT_GROUPS = frozenset({"agents", "admins"})
ADMIN_GROUPS = frozenset({"admins"})
Claims = dict[str, Any]  # a verified token's claims, as PyJWT decodes them
_jwks_client: Any = None  # jwt.PyJWKClient, imported on the first staff request


class InvalidToken(Exception):
    pass


class NotAuthenticated(Exception):
    """Raised by an authorizer for no or bad credentials. API Gateway answers 401 (its
    UNAUTHORIZED gateway response) when a Lambda authorizer fails with exactly the message
    "Unauthorized"; a deny policy would be 403, which SPEC §5 keeps for "not allowed"."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _bearer(header: object) -> str:
    if not isinstance(header, str):
        raise InvalidToken("missing")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("not a bearer token")
    return token.strip()


def verify_staff_token(header: object) -> Claims:
    """The claims of a valid staff token, or InvalidToken."""
    import jwt  # cold start: PyJWT (and cryptography) on the first staff request only

    token = _bearer(header)
    settings = config.current()
    try:
        if settings.staff_jwks_url:
            if not (settings.staff_jwt_issuer and settings.staff_jwt_audience):
                raise InvalidToken("staff authentication needs the pool's issuer and app client id")
            global _jwks_client
            if _jwks_client is None or _jwks_client.uri != settings.staff_jwks_url:
                # A JWKS that does not answer is a refusal within the authorizer's time, not a hang.
                _jwks_client = jwt.PyJWKClient(settings.staff_jwks_url, cache_keys=True, timeout=5)
            key = _jwks_client.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token, key, algorithms=["RS256"], issuer=settings.staff_jwt_issuer,
                audience=settings.staff_jwt_audience,
                options={"require": ["exp", "sub", "iss", "aud", "token_use"]},
            )
            if claims.get("token_use") != "id":
                raise InvalidToken("not an ID token")
            return claims
        if settings.staff_jwt_secret:
            return jwt.decode(token, settings.staff_jwt_secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    raise InvalidToken("staff authentication is not configured")


def groups_of(claims: Claims) -> frozenset[str]:
    groups = claims.get("cognito:groups") or []
    if isinstance(groups, str):
        groups = [groups]
    return frozenset(g for g in groups if isinstance(g, str))


def issue_local_staff_token(secret: str, subject: str, groups: Iterable[str], ttl_seconds: int = 8 * 3600) -> str:
    """A local HS256 staff token (tests, demo, `make token`); never used in AWS."""
    import jwt  # cold start: PyJWT only where a token is issued (tests, demo)

    now = int(time.time())
    claims = {"sub": subject, "cognito:groups": list(groups), "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")
