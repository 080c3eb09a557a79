"""A draw's seed sealed until the draw runs (SPEC R6): KMS in AWS, a stdlib envelope locally (docs/draws.md, "The seed before the draw").

The draws table keeps only the sealed seed and its SHA-256 (the public commitment) until the
allocation is recorded, so reading the tables tells nobody, the operator included, which ticket
wins. In AWS the seed is encrypted with KMS (`DRAW_SEED_KMS_KEY_ID`) under an encryption context
naming the draw; the key policy (infra/resources.yaml, DrawSeedKey) lets only the draw function
decrypt. Locally, the same shape without AWS: an encrypt-then-MAC envelope built from
HMAC-SHA256 alone (the `cryptography` package is not in the Lambda runtime) under the key that
`draw_seed_key` gives, named by the purpose `draw_seed`.
"""
import base64
import hashlib
import hmac
import secrets
from typing import Any

from chalicelib.platform import config, keys

_LOCAL, _KMS = "local1:", "kms1:"
_NONCE, _TAG = 16, 16
_kms: Any = None


def draw_seed_key() -> bytes:
    """The local sealing key: DRAW_SEED_KEY (hex), else derived from the server secret for the
    purpose `draw_seed` (development only: in AWS the key is KMS's and never leaves it)."""
    given = config.current().draw_seed_key
    if given:
        return bytes.fromhex(given)
    return hmac.new(keys.signing(keys.IDENTITIES).encode(), b"fairslot/draw_seed/v1", hashlib.sha256).digest()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (hmac.new(key, nonce + n.to_bytes(4, "big"), hashlib.sha256).digest() for n in range((length + 31) // 32))
    return b"".join(blocks)[:length]


def _local_keys() -> tuple[bytes, bytes]:
    key = draw_seed_key()
    return hmac.new(key, b"encrypt", hashlib.sha256).digest(), hmac.new(key, b"authenticate", hashlib.sha256).digest()


def _tag(mac_key: bytes, context: str, nonce: bytes, sealed: bytes) -> bytes:
    return hmac.new(mac_key, context.encode() + b"\x00" + nonce + sealed, hashlib.sha256).digest()[:_TAG]


def _client() -> Any:
    global _kms
    if _kms is None:
        import boto3  # cold start: only the functions that seal or open a seed build a KMS client

        _kms = boto3.client("kms", region_name=config.current().region)
    return _kms


def _kms_key_id() -> str | None:
    return config.current().draw_seed_kms_key_id


def seal(seed_hex: str, context: str) -> str:
    """The seed encrypted for the draw `context` names ("<site>#<procedure>#<draw id>")."""
    plain = bytes.fromhex(seed_hex)
    key_id = _kms_key_id()
    if key_id:
        blob = _client().encrypt(KeyId=key_id, Plaintext=plain, EncryptionContext={"fairslot:draw": context})["CiphertextBlob"]
        return _KMS + base64.b64encode(blob).decode()
    enc_key, mac_key = _local_keys()
    nonce = secrets.token_bytes(_NONCE)
    sealed = bytes(a ^ b for a, b in zip(plain, _keystream(enc_key, nonce, len(plain)), strict=True))
    return _LOCAL + base64.b64encode(nonce + sealed + _tag(mac_key, context, nonce, sealed)).decode()


def unseal(sealed_seed: str, context: str) -> str:
    """The seed in hex, for the draw function when the draw runs; ValueError if it was sealed for
    another draw or altered."""
    if sealed_seed.startswith(_KMS):
        blob = base64.b64decode(sealed_seed.removeprefix(_KMS))
        opened = _client().decrypt(CiphertextBlob=blob, KeyId=_kms_key_id(), EncryptionContext={"fairslot:draw": context})
        return bytes(opened["Plaintext"]).hex()
    if not sealed_seed.startswith(_LOCAL):
        raise ValueError("not a sealed seed")
    raw = base64.b64decode(sealed_seed.removeprefix(_LOCAL))
    nonce, sealed, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
    enc_key, mac_key = _local_keys()
    if not hmac.compare_digest(tag, _tag(mac_key, context, nonce, sealed)):
        raise ValueError("the sealed seed does not open for this draw")
    return bytes(a ^ b for a, b in zip(sealed, _keystream(enc_key, nonce, len(sealed)), strict=True)).hex()
