"""Proven identities (SPEC R10): one-time codes, identity tokens, and the key every lock binds.

Pure: time and randomness are arguments. A one-time code is 6 digits, valid CODE_SECONDS, tried at
most MAX_TRIES times; the identity token it buys is valid TOKEN_SECONDS and bound to a lock key
and a procedure. The lock key is what cooldowns and the one-per-identity locks bind
(DEVELOPERS.md, "Proven identities"): the registry's person, the pair of a person and the mailbox
that proved it, or, where nothing is proven, a key of its own that never meets a proven one.
"""
import hashlib
import hmac
import random
from dataclasses import dataclass

CODE_DIGITS = 6
CODE_SECONDS = 600
MAX_TRIES = 5
TOKEN_SECONDS = 7200
REGISTRY, CONTACT, NONE = "registry", "contact", "none"  # policies.IDENTITY_CHECKS


def new_code(rng: random.Random) -> str:
    """A one-time code: 6 decimal digits, uniform (leading zeros kept)."""
    return f"{rng.randrange(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_message(verification_id: str, code: str) -> str:
    """What is keyed to store a code (never the code itself): bound to its verification, so one
    digest says nothing about another verification's code."""
    return f"code|{verification_id}|{code}"


def codes_match(stored_digest: str, presented_digest: str) -> bool:
    """Constant time: the answer's timing says nothing about how many characters were right."""
    return hmac.compare_digest(stored_digest.encode(), presented_digest.encode())


def well_formed_code(code: str) -> str | None:
    """The code as sent, spaces dropped, if it is 6 ASCII digits; else None (a wrong code)."""
    compact = "".join(code.split())
    return compact if len(compact) == CODE_DIGITS and compact.isascii() and compact.isdigit() else None


def lock_key(identity_key: str, check: str, email: str) -> str:
    """The key R2's one-at-a-time locks and R4's cooldowns bind on a procedure of this check:
    registry: the person the registry knows (the identity key: only they receive its code);
    contact: the person and the mailbox that proved it (whoever types another's number with their
    own mailbox locks only themselves); none: a key of unproven attempts, which never meets a
    proven identity's locks. 64 hex characters, like an identity key."""
    if check == REGISTRY:
        return identity_key
    label = f"contact|{identity_key}|{email.lower()}" if check == CONTACT else f"unproven|{identity_key}"
    return hashlib.sha256(label.encode()).hexdigest()


def lock_key_candidates(identity_key: str, email: str) -> tuple[str, ...]:
    """The lock keys a document, birth date and e-mail may stand for on any procedure: the staff
    check-in and "find my booking" match the one a booking was made under."""
    return tuple(lock_key(identity_key, check, email) for check in (REGISTRY, CONTACT, NONE))


@dataclass(frozen=True)
class Verification:
    """A code sent (or, for an identity nobody can prove, a verification that can never succeed)."""
    verification_id: str
    site_id: str
    procedure_id: str
    lock_key: str
    code_digest: str
    expires_at: float
    destination: str  # masked: shown only after the right code
    tries: int = 0
    used: bool = False


@dataclass(frozen=True)
class Proof:
    """An identity token's stored side: its hash, the lock key and procedure it proves, its end."""
    token_hash: str
    lock_key: str
    procedure_id: str
    site_id: str
    expires_at: float


@dataclass(frozen=True)
class ProofCheck:
    """What a hold, request or look-up transaction checks of an identity token: it exists, proves
    this lock key for this procedure, and has not expired (its expiry is in the condition)."""
    token_hash: str
    lock_key: str
    procedure_id: str
