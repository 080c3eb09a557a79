"""Server-side secrets, fetched once per process: the identity-key HMAC secret, the registry's key."""
from chalicelib.platform import config

_identity_secret: str | None = None
_registry_key: tuple[str | None, str | None] | None = None  # (the parameter it was read for, the key)
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


def registry_key() -> str | None:
    """The prefecture registry's key (docs/identity-registry.md): IDENTITY_REGISTRY_KEY, else the
    SSM SecureString named by IDENTITY_REGISTRY_KEY_PARAM (read once), else none (a local fake)."""
    global _registry_key
    settings = config.current()
    if settings.registry.key:
        return settings.registry.key
    if settings.registry.key_param is None:
        return None
    if _registry_key is None or _registry_key[0] != settings.registry.key_param:
        import boto3  # cold start: SSM is read once, on the first check against the registry

        ssm = boto3.client("ssm", region_name=settings.region)
        value = ssm.get_parameter(Name=settings.registry.key_param, WithDecryption=True)["Parameter"]["Value"]
        _registry_key = (settings.registry.key_param, value)
    return _registry_key[1]


def forget() -> None:
    global _identity_secret, _registry_key
    _identity_secret = _registry_key = None
