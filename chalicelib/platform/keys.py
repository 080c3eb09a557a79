"""Server keys, one per purpose, each a ring of versions (SPEC §6): the newest listed signs, every listed one verifies.

Where a ring comes from, for each purpose (its `variable`, one of config.KEY_VARIABLES):
- `<variable>` set: the ring itself, as text (local runs, tests);
- `<variable>_PARAM` set: the SSM SecureString of that name (AWS: `/fairslot/<stage>/keys/<name>`),
  read on first use and again every KEY_CACHE_SECONDS, so a rotation step reaches every warm
  function within that delay; only the functions that use a purpose may read its parameter
  (infra/iam.py);
- otherwise, outside AWS only: version 1 derived with HKDF (RFC 5869) from KEY_ROOT (or, under
  FAIRSLOT_LOCAL=1, a development root), the purpose's name in the derivation's info.

A ring's text is `<version>:<secret>` entries separated by spaces or commas, the one that signs
first: `2:new 1:old`. A bare secret is version 1. Version 1 of each purpose computes exactly what
the single identity secret computed before keys had purposes, so a stage that had one secret keeps
every identity key, slot id, link and offer token by writing it as version 1 of each ring. docs/deploy.md,
"Secrets and keys", says how each purpose rotates, or why it does not.
"""
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.platform import config, parameters
from chalicelib.platform.config import ConfigurationError

_DEV_ROOT = "fairslot-local-dev-key-root-not-for-production"
_ENTRY = re.compile(r"([0-9]{1,6}):(\S+)")


@dataclass(frozen=True)
class Purpose:
    """What a key is for: its name (SSM parameter `keys/<name>`, HKDF info), its variable, and
    whether it may have more than one version (docs/deploy.md says why two may not)."""
    name: str
    variable: str
    rotates: bool


# R1: an identity key is stored in every hold, booking, request and lock; the raw number is not,
# so nothing can be re-keyed, and two live versions would give one person two identities.
IDENTITIES = Purpose("identities", "IDENTITY_KEY", rotates=False)
# Slot ids (lifecycle.slot_id): publishing a period again must meet the ids published before.
SLOT_IDS = Purpose("slot-ids", "SLOT_ID_KEY", rotates=False)
# E-mail link tokens (tokens.link_token): bookings' and requests' links.
LINKS = Purpose("links", "LINK_KEY", rotates=True)
# Draw offers: the offer's hold token and its hold id (usecases/draw_terms.py).
OFFERS = Purpose("offers", "OFFER_KEY", rotates=True)
# Search and partner-list cursors (storage/cursors.py), sealed with AES-GCM.
CURSORS = Purpose("cursors", "CURSOR_KEY", rotates=True)
# One-time codes of identity verification (SPEC R10), hashed under this key.
CODES = Purpose("codes", "CODE_KEY", rotates=True)
# Identity tokens (SPEC R10) that a verified code yields.
IDENTITY_TOKENS = Purpose("identity-tokens", "IDENTITY_TOKEN_KEY", rotates=True)

PURPOSES = (IDENTITIES, SLOT_IDS, LINKS, OFFERS, CURSORS, CODES, IDENTITY_TOKENS)


@dataclass(frozen=True)
class Ring:
    """A purpose's secrets by version, the one that signs first."""
    purpose: Purpose
    secrets: tuple[tuple[int, str], ...]

    @property
    def version(self) -> int:
        """The version that signs."""
        return self.secrets[0][0]

    @property
    def secret(self) -> str:
        """The secret that signs."""
        return self.secrets[0][1]

    def secret_of(self, version: int) -> str | None:
        """The secret of a version still accepted, None for one retired (or never made)."""
        return dict(self.secrets).get(version)


def hkdf_sha256(key_material: bytes, info: bytes, length: int = 32, salt: bytes = b"") -> bytes:
    """RFC 5869 with SHA-256: extract, then expand `info` into `length` bytes."""
    prk = hmac.new(salt or bytes(32), key_material, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


@lru_cache(maxsize=64)
def parse(purpose: Purpose, text: str) -> Ring:
    """The ring a parameter or variable holds (ConfigurationError, never naming a secret, if it
    is malformed or if a purpose that does not rotate lists more than one version)."""
    pairs = _entries(purpose, text.replace(",", " ").split())
    versions = [version for version, _ in pairs]
    if len(set(versions)) != len(versions) or min(versions) < 1:
        raise ConfigurationError(f"The {purpose.name} key ring lists a version twice, or a version below 1.")
    if len(pairs) > 1 and not purpose.rotates:
        raise ConfigurationError(f"The {purpose.name} key does not rotate (docs/deploy.md, 'Secrets and keys'): one version only.")
    return Ring(purpose, tuple(pairs))


def _entries(purpose: Purpose, entries: list[str]) -> list[tuple[int, str]]:
    """(version, secret) of each `<version>:<secret>`; a lone bare secret is version 1."""
    if len(entries) == 1 and not _ENTRY.fullmatch(entries[0]):
        return [(1, entries[0])]
    matches = [_ENTRY.fullmatch(entry) for entry in entries]
    if not entries or not all(matches):
        raise ConfigurationError(f"The {purpose.name} key ring must read '<version>:<secret> ...', the signing one first.")
    return [(int(m[1]), m[2]) for m in matches if m]


_fetched: dict[str, tuple[float, str, Ring]] = {}  # purpose name: (read again after, parameter, ring)


def ring(purpose: Purpose) -> Ring:
    """The purpose's ring now (module docstring: where it comes from). Nothing is read at import."""
    settings = config.current()
    text = settings.key_rings.get(purpose.variable)
    if text:
        return parse(purpose, text)
    name = settings.key_params.get(purpose.variable)
    if name:
        return _from_parameter(purpose, name, settings.key_cache_seconds)
    root = settings.key_root or (_DEV_ROOT if settings.local else None)
    if root and not settings.in_aws:
        return parse(purpose, hkdf_sha256(root.encode(), f"fairslot/keys/{purpose.name}".encode()).hex())
    raise ConfigurationError(f"No {purpose.name} key: set {purpose.variable}_PARAM (docs/deploy.md, 'Secrets and keys').")


def _from_parameter(purpose: Purpose, name: str, cache_seconds: int) -> Ring:
    now = time.monotonic()
    cached = _fetched.get(purpose.name)
    if cached is not None and cached[1] == name and now < cached[0]:
        return cached[2]
    found = parse(purpose, parameters.read(name))
    _fetched[purpose.name] = (now + cache_seconds, name, found)
    return found


def signing(purpose: Purpose) -> str:
    """The purpose's secret that signs now."""
    return ring(purpose).secret


def forget() -> None:
    """Every ring is read again at its next use (tests: a cold function, a rotation step)."""
    global _registry_key
    _fetched.clear()
    _registry_key = None


def verification_digest(message: str) -> str:
    """HMAC-SHA256 of a one-time code's message (rules/proofs.py::code_message) under the codes
    key (CODES): its only use. A code lives minutes: one signed just before a rotation's "sign"
    step fails its check after it, and the person asks for another."""
    import hashlib  # cold start: codes are keyed only on the verification routes
    import hmac  # cold start: as above

    return hmac.new(signing(CODES).encode(), message.encode(), hashlib.sha256).hexdigest()


_registry_key: tuple[str, str] | None = None  # (the parameter it was read for, the key)


def registry_key() -> str | None:
    """The prefecture registry's key (docs/identity-registry.md): IDENTITY_REGISTRY_KEY, else the
    SSM SecureString named by IDENTITY_REGISTRY_KEY_PARAM (read once a process), else none (a local fake)."""
    global _registry_key
    settings = config.current()
    if settings.registry.key:
        return settings.registry.key
    if settings.registry.key_param is None:
        return None
    if _registry_key is None or _registry_key[0] != settings.registry.key_param:
        _registry_key = (settings.registry.key_param, parameters.read(settings.registry.key_param))
    return _registry_key[1]
