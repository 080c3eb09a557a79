"""Server-side secrets, fetched once per process: the identity-key HMAC secret."""
from chalicelib.platform import config

_identity_secret: str | None = None
_DEV_SECRET = "fairslot-local-dev-identity-secret-not-for-production"


def identity_secret() -> str:
    """From IDENTITY_HMAC_SECRET, else the SSM SecureString named by IDENTITY_HMAC_SECRET_PARAM
    (AWS), else the local development secret when running locally (FAIRSLOT_LOCAL=1)."""
    global _identity_secret
    if _identity_secret is None:
        settings = config.current()
        if settings.identity_hmac_secret:
            _identity_secret = settings.identity_hmac_secret
        elif settings.identity_hmac_secret_param:
            import boto3  # cold start: SSM is read once, on the first secret asked for

            ssm = boto3.client("ssm", region_name=settings.region)
            response = ssm.get_parameter(Name=settings.identity_hmac_secret_param, WithDecryption=True)
            _identity_secret = response["Parameter"]["Value"]
        elif settings.local:
            _identity_secret = _DEV_SECRET
        else:
            raise RuntimeError("No identity HMAC secret configured (IDENTITY_HMAC_SECRET_PARAM).")
    return _identity_secret


def forget() -> None:
    global _identity_secret
    _identity_secret = None


def verification_digest(message: str) -> str:
    """HMAC-SHA256 of a one-time code's message (rules/proofs.py::code_message): the only use of
    a key for codes, so that it can move to a key of its own purpose without touching a caller."""
    import hashlib  # cold start: codes are keyed only on the verification routes
    import hmac  # cold start: as above

    return hmac.new(f"fairslot/verification/v1|{identity_secret()}".encode(), message.encode(), hashlib.sha256).hexdigest()
