"""SSM Parameter Store, read in one place: the keys (keys.py) and the partner plan's id (gateway_keys.py)."""
from chalicelib.platform import config


def read(name: str) -> str:
    """The parameter's value, decrypted if it is a SecureString (harmless on a plain String).

    Never at import time. Each caller caches what it reads (a ring for KEY_CACHE_SECONDS, the
    plan's id for the process), so a read is rare and the client is not kept: one built before
    a test's fake AWS started would escape it."""
    import boto3  # cold start: only a function that reads a parameter loads boto3's SSM model, on its first read

    ssm = boto3.client("ssm", region_name=config.current().region)
    value: str = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    return value
